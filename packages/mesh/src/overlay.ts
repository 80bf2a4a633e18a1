/**
 * The overlay's own addresses never leave the overlay: a connection to one of them would run inside
 * the tunnel itself (and deadlock when the outer path goes). Announce filters, the gater and every
 * candidate list ask this.
 */
import { ipToUint32, parseCidr } from '@meshlan/wire'

/** False for an address (multiaddr or dotted quad) inside the overlay `subnet`. */
export function isUnderlay(addrOrIp: string, subnet: string | null): boolean {
  if (subnet == null) return true
  const ip = ipToUint32(/^\/ip4\/([\d.]+)/.exec(addrOrIp)?.[1] ?? addrOrIp)
  const c = parseCidr(subnet)
  return ip < 0 || !c.ok || (ip & c.mask) >>> 0 !== c.base
}
