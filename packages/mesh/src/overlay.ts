/**
 * The overlay's own addresses never leave the overlay: a connection to one of them would run inside
 * the tunnel itself (and deadlock when the outer path goes). Announce filters, the gater and every
 * candidate list ask this.
 */
import { networkInterfaces } from 'node:os'
import { ipToUint32, parseCidr } from '@meshlan/wire'
import { isGlobalIpv6 } from './ip-family.ts'

/** False for an address (multiaddr or dotted quad) inside the overlay `subnet`. */
export function isUnderlay(addrOrIp: string, subnet: string | null): boolean {
  if (subnet == null) return true
  const ip = ipToUint32(/^\/ip4\/([\d.]+)/.exec(addrOrIp)?.[1] ?? addrOrIp)
  const c = parseCidr(subnet)
  return ip < 0 || !c.ok || (ip & c.mask) >>> 0 !== c.base
}

/**
 * This host's IPv4 addresses, every interface (the overlay's TUN included: callers filter with
 * isUnderlay); loopback too unless `withLoopback` is false. The one reader of the interface list.
 */
export function hostIpv4s(withLoopback = true): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && (withLoopback || !a.internal)) out.push(a.address)
  }
  return out
}

/**
 * This host's global unicast IPv6 addresses (isGlobalIpv6), every interface: the only IPv6
 * addresses we announce. The overlay is IPv4-only, so none of them is inside it.
 */
export function hostGlobalIpv6s(): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv6' && isGlobalIpv6(a.address)) out.push(a.address)
  }
  return [...new Set(out)]
}
