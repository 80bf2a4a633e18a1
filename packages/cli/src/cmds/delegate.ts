/**
 * `meshlan delegate add|remove|list`: delegated admins (issue 11, owner continuity). The owner names
 * member nodes whose signatures every node accepts on policy changes (keys, ACLs, routes, node
 * revokes), so losing the owner's box does not stop administration; removing one is a new
 * owner-signed certificate that its later versions lose to.
 */
import type { Command } from 'commander'
import { table } from '../format.ts'
import { ctx, err, json, out } from '../io.ts'

export function registerDelegate(program: Command): void {
  const d = program
    .command('delegate')
    .description('delegated admins: member nodes that may sign policy changes besides the owner')
  d.command('add <node>')
    .description('let NODE (a bound member) sign policy changes; owner only')
    .action(async (node: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('delegateSet', { node, admin: true })
      if (asJson) return json(r)
      out(`${node} is a delegated admin (certificate epoch ${r.epoch}, policy v${r.version})`)
      err(
        `on ${node}: \`meshlan key create\`, \`key revoke\`, \`acl set\`, \`route approve\`, \`node revoke\` now work`,
      )
    })
  d.command('remove <node>')
    .description('withdraw it: versions NODE signs from now on are refused everywhere; owner only')
    .action(async (node: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('delegateSet', { node, admin: false })
      if (asJson) return json(r)
      out(`${node} is no longer a delegated admin (certificate epoch ${r.epoch}, policy v${r.version})`)
    })
  d.command('list')
    .description('the delegated admins of the policy this node holds')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('delegateList', {})
      if (asJson) return json(r)
      if (r.nodes.length === 0)
        return out('no delegated admins: the owner alone signs (`meshlan delegate add NODE`)')
      out(
        table(
          ['NODE', 'PEER ID'],
          r.nodes.map((n) => [n.name ?? '-', n.peerId]),
        ),
      )
    })
}
