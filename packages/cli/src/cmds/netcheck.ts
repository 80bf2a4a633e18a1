/** `meshlan netcheck`: this node's reachability. */
import type { NetcheckResult } from '@meshlan/daemon'
import type { Command } from 'commander'
import { ms, table } from '../format.ts'
import { ctx, json, out } from '../io.ts'

function humanNetcheck(n: NetcheckResult): string {
  const lines = [
    `listen        ${n.listen.join(' ') || '-'}`,
    `observed      ${n.observed.join(' ') || '- (no member has told us yet)'}`,
    `behind NAT    ${n.behindNat == null ? 'unknown' : n.behindNat ? 'yes' : 'no'}`,
    `NAT mapping   ${n.natMapping ?? '-'}  (keeps the port: ${n.natPreservesPort == null ? 'unknown' : n.natPreservesPort ? 'yes, hole punching can work' : 'no (symmetric): relays carry the traffic'})`,
    `member relay  ${n.relay ? 'yes (this node relays for members)' : 'no'}`,
  ]
  if (n.relays.length === 0)
    lines.push('relays        none in this network: set relay = true on a publicly reachable node')
  else {
    lines.push('relays:')
    lines.push(
      table(
        ['NAME', 'RTT', 'RESERVED', 'PEER'],
        n.relays.map((r) => [r.name, ms(r.rttMs), r.reserved ? 'yes' : 'no', r.peerId]),
      ),
    )
  }
  return lines.join('\n')
}

export function registerNetcheck(program: Command): void {
  program
    .command('netcheck')
    .description("this node's reachability: observed addresses, NAT behaviour, relays and their RTT")
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const n = await client.call('netcheck', {})
      if (asJson) json(n)
      else out(humanNetcheck(n))
    })
}
