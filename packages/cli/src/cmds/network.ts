/** `meshlan network create`. */
import type { Command } from 'commander'
import { ctx, err, json, out } from '../io.ts'

export function registerNetwork(program: Command): void {
  const network = program.command('network').description('networks')
  network
    .command('create <name>')
    .description('become the owner of a new network')
    .option('--subnet <cidr>', 'overlay subnet inside 10/8, 172.16/12 or 192.168/16 (default 10.144.0.0/16)')
    .option('--force', "accept a public or CGNAT subnet, or one overlapping the host's routes")
    .action(async (name: string, o: { subnet?: string; force?: boolean }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      await client.state.initIdentity()
      const r = await client.control('networkCreate', {
        name,
        subnet: o.subnet ?? null,
        force: o.force === true,
      })
      if (asJson) json(r)
      else {
        out(`created network ${r.name} (${r.networkId}), subnet ${r.subnet}; this node is its owner`)
        err('next: `meshlan up`, then `meshlan key create NAME` for each member')
      }
    })
}
