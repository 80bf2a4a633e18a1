/** `meshlan config check [FILE]` and `meshlan reload`: config.toml without a restart. */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { ctx, err, json, out, UsageError } from '../io.ts'

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('config.toml')
    .command('check [file]')
    .description('validate a config file (default: <state>/config.toml); the running daemon is not touched')
    .action(async (file: string | undefined, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const path = file ?? join(client.state.dir, 'config.toml')
      const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' && file == null) return '' // no file: all defaults
        throw new UsageError(`cannot read ${path} (${e.code ?? e.message}): check the path`)
      })
      const { parseConfig } = await import('@meshlan/daemon')
      const r = parseConfig(text)
      if (asJson) {
        json(r.ok ? { ok: true, path } : { ok: false, path, field: r.field || null, reason: r.reason })
      } else if (r.ok) {
        out(`${path}: ok`)
      } else {
        err(`${path}: ${r.field === '' ? '' : `${r.field}: `}${r.reason}`)
      }
      if (!r.ok) process.exitCode = 1
    })

  program
    .command('reload')
    .description('apply config.toml to the running daemon (as SIGHUP); says what needs a restart')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.call('reload', {})
      if (asJson) return json(r)
      out(r.live.length === 0 ? 'reloaded: nothing to apply' : `reloaded: applied ${r.live.join(', ')}`)
      if (r.restart.length > 0) {
        err(`changed but needs a restart (meshlan down && meshlan up): ${r.restart.join(', ')}`)
      }
    })
}
