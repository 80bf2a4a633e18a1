/** `meshlan status`: this node and its peers. */
import type { NodeStatus } from '@meshlan/mesh'
import type { Command } from 'commander'
import { bytes, ms, pathText, table } from '../format.ts'
import { ctx, json, out } from '../io.ts'

/** One line: name, address, network, peers, and why it is not a member yet. */
export function statusLine(s: NodeStatus): string {
  const net = s.self.network.name ?? s.self.network.id
  const ip = s.self.ip ?? 'no address yet'
  const why = s.self.member ? '' : ` — not a member yet: ${s.self.reason ?? 'waiting for the policy'}`
  return `${s.self.name} ${ip} in network ${net} (${s.peers.length} peer${s.peers.length === 1 ? '' : 's'})${why}`
}

function humanStatus(s: NodeStatus): string {
  const lines = [
    `${s.self.name}  ${s.self.ip ?? '-'}  ${s.self.peerId}`,
    `network ${s.self.network.name ?? '?'} (${s.self.network.id}) ${s.self.network.subnet ?? ''} policy v${s.self.network.policyVersion}` +
      (s.self.key != null ? ` key ${s.self.key}` : ''),
  ]
  if (!s.self.member) lines.push(`not a member: ${s.self.reason ?? 'waiting for the policy'}`)
  const r = s.self.routes
  if (r.advertised.length > 0) {
    const pending = r.advertised.filter((c) => !r.approved.includes(c))
    lines.push(
      `routes: serving ${r.approved.join(', ') || 'none yet'}${pending.length > 0 ? ` (waiting for approval: ${pending.join(', ')})` : ''}`,
    )
  }
  if (s.self.exitNode != null) lines.push(`exit node: ${s.self.exitNode}`)
  else if (s.self.exitNodeError != null) lines.push(`exit node not in use: ${s.self.exitNodeError}`)
  lines.push('')
  if (s.peers.length === 0) lines.push('no peers yet')
  else {
    lines.push(
      table(
        ['NAME', 'IP', 'PATH', 'RTT', 'RX', 'TX', 'KEY', 'ROUTES'],
        s.peers.map((p) => [
          p.name,
          p.ip,
          pathText(p),
          ms(p.rttMs),
          bytes(p.rxBytes),
          bytes(p.txBytes),
          p.key,
          [...p.routes, ...(p.exitNode ? ['exit'] : [])].join(',') || '-',
        ]),
      ),
    )
  }
  return lines.join('\n')
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('this node and its peers')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const s = await client.call('status', {})
      if (asJson) json(s)
      else out(humanStatus(s))
    })
}
