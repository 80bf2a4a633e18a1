/** `meshlan route list|approve|revoke` (owner only): subnet routes and exit nodes. */
import type { Command } from 'commander'
import { table } from '../format.ts'
import { ctx, json, out } from '../io.ts'

export function registerRoute(program: Command): void {
  const route = program.command('route').description('subnet routes and exit nodes (owner only)')
  route
    .command('list')
    .description('per node: advertised routes, approved ones, primaries, exit node')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('routeList', {})
      if (asJson) return json(r)
      if (r.nodes.length === 0) {
        return out('no node advertises routes: run `meshlan set --advertise-routes CIDR` on a router')
      }
      const list = (xs: string[]) => (xs.length === 0 ? '-' : xs.join(','))
      const exit = (e: { advertised: boolean; approved: boolean }) =>
        e.approved ? (e.advertised ? 'approved' : 'approved (not offered)') : e.advertised ? 'offered' : '-'
      out(
        table(
          ['NODE', 'IP', 'ADVERTISED', 'APPROVED', 'PRIMARY', 'EXIT NODE'],
          r.nodes.map((n) => [
            n.name,
            n.ip ?? '-',
            list(n.advertised),
            list(n.approved.filter((a) => a !== 'exit')),
            list(n.primary),
            exit(n.exitNode),
          ]),
        ),
      )
    })
  route
    .command('approve <node> <route>')
    .description('approve a prefix the node advertises (CIDR), or `exit` for its exit-node offer')
    .action(async (node: string, what: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('routeApprove', { node, route: what })
      if (asJson) json(r)
      else out(`approved ${r.route} of ${r.name ?? r.peerId} (policy v${r.version})`)
    })
  route
    .command('revoke <node> <route>')
    .description('withdraw the approval of a prefix (CIDR) or `exit`; applies on every node within seconds')
    .action(async (node: string, what: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('routeRevoke', { node, route: what })
      if (asJson) json(r)
      else out(`revoked ${r.route} of ${r.name ?? r.peerId} (policy v${r.version})`)
    })
}
