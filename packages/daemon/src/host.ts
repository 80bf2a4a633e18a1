/**
 * What the daemon asks of the host: its routes (so a new network's subnet does not collide) and its
 * IPv4 interface addresses (bootstrap addresses for join strings when no node is running).
 */
import { execFile } from 'node:child_process'
import { hostIpv4s } from '@meshlan/mesh'

/** The host's IPv4 routes as CIDRs, from `ip -j route` (empty when `ip` is missing). */
export function hostRoutes(): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('ip', ['-j', 'route', 'show', 'table', 'all'], { timeout: 5000 }, (err, stdout) => {
      if (err != null) return resolve([])
      resolve(parseIpRoutes(stdout))
    })
  })
}

/** Parses `ip -j route` output into CIDRs; `default` and non-IPv4 entries are skipped. */
export function parseIpRoutes(json: string): string[] {
  let list: unknown
  try {
    list = JSON.parse(json)
  } catch {
    return []
  }
  if (!Array.isArray(list)) return []
  const out: string[] = []
  for (const r of list) {
    const dst = (r as { dst?: unknown })?.dst
    if (typeof dst !== 'string' || dst === 'default') continue
    if (!/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dst)) continue
    const type = (r as { type?: unknown }).type
    if (type === 'local' || type === 'broadcast' || type === 'multicast') continue
    out.push(dst.includes('/') ? dst : `${dst}/32`)
  }
  return [...new Set(out)]
}

/** Non-loopback IPv4 addresses of the host's interfaces. */
export function hostIPv4Addresses(): string[] {
  return hostIpv4s(false)
}
