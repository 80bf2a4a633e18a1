/** `meshlan init`: this node's identity. */
import type { Command } from 'commander'
import { ctx, err, json, out } from '../io.ts'

export function registerInit(program: Command): void {
  program
    .command('init')
    .description("create this node's identity (idempotent); prints the peer id")
    .option('--name <name>', 'node name (default: the host name)')
    .action(async (o: { name?: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      // local even when a daemon runs: the identity is a file, and the daemon has one already
      const { Controller } = await import('@meshlan/daemon')
      const r = await new Controller({ state: client.state }).init({ name: o.name ?? null })
      if (asJson) json({ ...r, stateDir: client.state.dir })
      else {
        err(r.created ? `created identity in ${client.state.dir}` : `identity exists in ${client.state.dir}`)
        out(r.peerId)
      }
    })
}
