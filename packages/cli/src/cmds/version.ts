/** `meshlan version`: the CLI's version, and the running daemon's when there is one. */
import type { Command } from 'commander'
import pkg from '../../package.json' with { type: 'json' }
import { ctx, json, out } from '../io.ts'

export const VERSION: string = pkg.version

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description("print the CLI's version and the running daemon's")
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      // a daemon we may not talk to (another user's, or stopped) is simply not shown
      const daemon = (await client.daemonRunning().catch(() => false))
        ? await client.call('info', {}).catch(() => null)
        : null
      if (asJson) {
        json({
          version: VERSION,
          node: process.version,
          daemon: daemon == null ? null : { version: daemon.version, pid: daemon.pid },
        })
      } else {
        out(`meshlan ${VERSION} (node ${process.version})`)
        if (daemon != null) out(`daemon ${daemon.version ?? 'of an older version'} (pid ${daemon.pid})`)
      }
    })
}
