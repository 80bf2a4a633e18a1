/**
 * meshlan lab CLI: `node packages/lab/src/cli.ts <command>`
 *   up <spec.json> --prefix P [--log-dir D]   build the lab, print it, stay up until SIGINT/SIGTERM
 *   down --prefix P | clean --prefix P        remove everything a lab with prefix P left behind
 *   exec --prefix P HOST -- cmd [args...]     run a command inside HOST's namespace
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { cleanLab } from './cleanup.ts'
import { formatLab } from './lab.ts'
import { checkName, checkPrefix, hostNamespace } from './names.ts'
import { buildLab, parseLabSpec } from './spec.ts'

const USAGE = `usage:
  node packages/lab/src/cli.ts up <spec.json> --prefix P [--log-dir DIR]
  node packages/lab/src/cli.ts down --prefix P      (alias: clean)
  node packages/lab/src/cli.ts exec --prefix P HOST -- cmd [args...]`

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`)
  process.exit(2)
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      prefix: { type: 'string', short: 'p' },
      'log-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command, ...rest] = positionals
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  const prefix = values.prefix
  if (prefix === undefined) fail('--prefix is required')
  checkPrefix(prefix)

  if (command === 'down' || command === 'clean') {
    const r = await cleanLab(prefix)
    process.stdout.write(
      `removed namespaces: ${r.namespaces.join(' ') || '-'}; /etc/netns dirs: ${r.etcDirs.join(' ') || '-'}; ` +
        `killed pids: ${r.killedPids.join(' ') || '-'}\n`,
    )
    return 0
  }

  if (command === 'exec') {
    const [host, ...cmd] = rest
    if (host === undefined || cmd.length === 0) fail('exec needs HOST -- cmd [args...]')
    checkName('host', host)
    const r = spawnSync('ip', ['netns', 'exec', hostNamespace(prefix, host), ...cmd], { stdio: 'inherit' })
    return r.status ?? 1
  }

  if (command === 'up') {
    const [file] = rest
    if (file === undefined) fail('up needs a spec file')
    let json: unknown
    try {
      json = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      fail(`cannot read ${file}: ${(err as Error).message}`)
    }
    const parsed = parseLabSpec(json)
    if (!parsed.ok) fail(`bad spec ${file}: ${parsed.error}`)
    const lab = await buildLab(parsed.spec, { prefix, logDir: values['log-dir'] })
    process.stdout.write(`${formatLab(lab.describe())}\n`)
    process.stdout.write(
      `up; run commands with: node packages/lab/src/cli.ts exec --prefix ${prefix} HOST -- cmd\n`,
    )
    process.stdout.write('press Ctrl-C to tear down\n')
    const keepAlive = setInterval(() => {}, 1 << 30)
    await new Promise<void>((resolve) => {
      const stop = () => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    clearInterval(keepAlive)
    await lab.teardown()
    process.stdout.write(`lab ${prefix} torn down\n`)
    return 0
  }

  fail(`unknown command ${command}`)
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.name}: ${err.message}\n`)
    process.exit(1)
  },
)
