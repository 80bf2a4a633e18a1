/**
 * The `meshlan` command line (docs/cli.md): assembles the commands of `cmds/<noun>.ts`. Output for
 * people on stdout, diagnostics on stderr; `--json` gives stable JSON on stdout; exit 0 on
 * success, 1 with a one-line message otherwise.
 */
import { Command, CommanderError } from 'commander'
import { registerAcl } from './cmds/acl.ts'
import { registerAdmin } from './cmds/admin.ts'
import { registerAudit } from './cmds/audit.ts'
import { registerConfig } from './cmds/config.ts'
import { registerDns } from './cmds/dns.ts'
import { registerInit } from './cmds/init.ts'
import { registerJoin } from './cmds/join.ts'
import { registerKey } from './cmds/key.ts'
import { registerLifecycle } from './cmds/lifecycle.ts'
import { registerLock } from './cmds/lock.ts'
import { registerNetcheck } from './cmds/netcheck.ts'
import { registerNetwork } from './cmds/network.ts'
import { registerNode } from './cmds/node.ts'
import { registerPing } from './cmds/ping.ts'
import { registerRoute } from './cmds/route.ts'
import { registerSet } from './cmds/set.ts'
import { registerStatus } from './cmds/status.ts'
import { registerVersion, VERSION } from './cmds/version.ts'
import { err, UsageError } from './io.ts'

export { type GlobalOptions, UsageError } from './io.ts'

export function buildProgram(): Command {
  const program = new Command('meshlan')
  program
    .description('meshlan: a self-hosted peer-to-peer overlay network')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--state <dir>', 'state directory (env MESHLAN_STATE; default /var/lib/meshlan)')
    .option('--json', 'stable JSON on stdout')
    .option(
      '--otp <code>',
      'a TOTP or recovery code for owner actions once TOTP is on (asked on a terminal when missing)',
    )
    .option('--otp-user <name>', 'the admin account the --otp code belongs to, when several have TOTP on')
    .showHelpAfterError('(run `meshlan help` for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .exitOverride()

  registerVersion(program)
  registerInit(program)
  registerNetwork(program)
  registerKey(program)
  registerNode(program)
  registerRoute(program)
  registerAcl(program)
  registerAdmin(program)
  registerLock(program)
  registerAudit(program)
  registerJoin(program)
  registerLifecycle(program)
  registerSet(program)
  registerConfig(program)
  registerStatus(program)
  registerDns(program)
  registerNetcheck(program)
  registerPing(program)

  program
    .command('help [command...]')
    .description('show help for meshlan or a command')
    .action((words: string[]) => {
      let c: Command = program
      for (const w of words ?? []) {
        const next = c.commands.find((x) => x.name() === w)
        if (next == null) throw new UsageError(`unknown command ${words.join(' ')}: run \`meshlan help\``)
        c = next
      }
      c.outputHelp()
    })
  program.addHelpCommand(false)

  return program
}

/** Runs the CLI; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram()
  if (argv.length === 0) {
    program.outputHelp()
    return 0
  }
  try {
    await program.parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version'
        ? 0
        : 1
    }
    const msg = (e as Error).message ?? String(e)
    err(`meshlan: ${msg}`)
    if (process.env.MESHLAN_DEBUG) err((e as Error).stack ?? '')
    return 1
  }
}
