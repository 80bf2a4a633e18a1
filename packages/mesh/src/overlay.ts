/**
 * The overlay's own addresses never leave the overlay: a connection to one of them would run inside
 * the tunnel itself (and deadlock when the outer path goes). Announce filters, the gater and every
 * candidate list ask this.
 */
import { networkInterfaces } from 'node:os'
import { ipToUint32, parseCidr } from '@meshlan/wire'

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
