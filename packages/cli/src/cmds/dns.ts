/** `meshlan dns status`: MagicDNS. */
import type { DnsStatus } from '@meshlan/daemon'
import type { Command } from 'commander'
import { table } from '../format.ts'
import { ctx, json, out } from '../io.ts'

function humanDns(d: DnsStatus): string {
  if (!d.enabled) return `MagicDNS off: ${d.reason ?? 'disabled'}`
  const lines = [
    `resolver   ${d.listen.join(' ') || '- (not running yet)'}`,
    `host       ${d.mode}${d.applied ? '' : ' (not applied)'}${d.reason != null ? ` — ${d.reason}` : ''}`,
    `upstreams  ${d.upstreams.join(' ') || '-'}`,
    '',
    table(
      ['NAME', 'IP'],
      d.names.map((n) => [n.fqdn, n.ip]),
    ),
  ]
  return lines.join('\n')
}

export function registerDns(program: Command): void {
  const dns = program.command('dns').description('MagicDNS: name.mesh for every node')
  dns
    .command('status')
    .description('the resolver, how the host hands .mesh to it, the names and the upstreams')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const d = await client.call('dns-status', {})
      if (asJson) json(d)
      else out(humanDns(d))
    })
}
