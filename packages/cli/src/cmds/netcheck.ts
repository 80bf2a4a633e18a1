/** `meshlan netcheck`: this node's reachability. */
import type { NetcheckResult } from '@meshlan/daemon'
import type { Command } from 'commander'
import { ms, table } from '../format.ts'
import { ctx, json, out } from '../io.ts'

function humanNetcheck(n: NetcheckResult): string {
  const lines = [
    `listen        ${n.listen.join(' ') || '-'}`,
    `families      IPv4 ${n.families.ipv4 == null ? 'off' : `port ${n.families.ipv4}`}, IPv6 ${n.families.ipv6 == null ? 'off' : `port ${n.families.ipv6} on ${n.families.ipv6Addrs.join(' ') || 'no global address'}`}`,
    `observed      ${n.observed.join(' ') || '- (no member has told us yet)'}`,
    `behind NAT    ${n.behindNat == null ? 'unknown' : n.behindNat ? 'yes' : 'no'}`,
    `NAT           ${n.nat.kind}: ${n.nat.reason}`,
    `NAT mapping   ${n.natMapping ?? '-'}  (keeps the port: ${n.natPreservesPort == null ? 'unknown' : n.natPreservesPort ? 'yes, hole punching can work' : 'no (symmetric): relays carry the traffic'})`,
    `member relay  ${n.relay ? 'yes (this node relays for members)' : 'no'}  (${n.relayMode})`,
    `  why         ${n.relayReason}`,
    `port mapping  ${portMapping(n.portMapping)}`,
  ]
  if (n.relays.length === 0)
    lines.push(
      'relays        none yet: a member relays once members outside its network can dial it back ' +
        '(relay = "auto", the default; a public node, or one whose router maps its port) — or set relay = true on one',
    )
  else {
    lines.push('relays:')
    lines.push(
      table(
        ['NAME', 'RTT', 'RESERVED', 'PEER'],
        n.relays.map((r) => [r.name, ms(r.rttMs), r.reserved ? 'yes' : 'no', r.peerId]),
      ),
    )
  }
  const u = n.relayUsage
  if (u != null && u.members.length > 0) {
    const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`
    lines.push(
      `relayed for members: ${mb(u.bytes)}, budget ${u.budgetBytesPerSec == null ? 'unlimited' : `${((u.budgetBytesPerSec * 8) / 1e6).toFixed(0)} Mbit/s`}`,
    )
    lines.push(
      table(
        ['MEMBER', 'RELAYED', 'THIS PERIOD', 'PAUSED', 'QUOTA CUT/REFUSED', 'STREAMS'],
        u.members.map((m) => [
          m.peerId,
          mb(m.bytes),
          mb(m.periodBytes),
          String(m.throttled),
          `${m.quotaCuts}/${m.quotaRefused}`,
          String(m.streams),
        ]),
      ),
    )
    for (const m of u.members) if (m.refusedBecause != null) lines.push(`  refused: ${m.refusedBecause}`)
  }
  return lines.join('\n')
}

/** The router's mapping: `upnp 11.70.0.1:7946 -> 198.18.71.10:7946, expires in 59 min`, or why none. */
function portMapping(p: NetcheckResult['portMapping']): string {
  const m = p.mapping
  if (m == null) return p.enabled ? `none (${p.state})` : 'off ([nat] port_mapping = false)'
  const hostPort = (a: string) => a.replace(/^\/ip4\/([^/]+)\/tcp\/(\d+)$/, '$1:$2')
  const left = Math.max(0, Math.round((m.expiresAt - Date.now()) / 60_000))
  return `${m.protocol} ${hostPort(m.external)} -> ${hostPort(m.internal)} via ${m.gateway}, expires in ${left} min (renewed ${m.renewals}×)`
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
