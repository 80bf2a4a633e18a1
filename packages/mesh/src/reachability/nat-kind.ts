/**
 * What kind of NAT we sit behind, in a word and a sentence, for `meshlan netcheck` (`nat`): from
 * what members observed, our own interface addresses, the NAT probe and the router's port mapping.
 * A node cannot count the NATs on its way out, but two signs of a second one are certain: our own
 * address is in the carrier-grade range (RFC 6598, 100.64.0.0/10), or our router maps our port on
 * a public side members never see us at (its WAN is itself behind a NAT: a mapping there reaches
 * only the carrier's network).
 */
import { ipToUint32, parseCidr } from '@meshlan/wire'
import { TAILSCALE_RANGE } from '../constants.ts'
import { isLanIp } from './candidates.ts'

/** RFC 6598 shared address space, where carrier-grade NATs number their customers' routers. */
const CGNAT = (() => {
  const r = parseCidr(TAILSCALE_RANGE)
  if (!r.ok) throw new Error(`bad built-in range ${TAILSCALE_RANGE}`)
  return r
})()

export function isCgnatIp(ip: string): boolean {
  const n = ipToUint32(ip)
  return n >= 0 && (n & CGNAT.mask) >>> 0 === CGNAT.base
}

export type NatKind = 'unknown' | 'public' | 'mapped' | 'nat' | 'symmetric-nat' | 'double-nat'

export interface NatFacts {
  /** Public IPs members observed for us, most recent first. */
  observed: string[]
  /** Our own interface IPv4 addresses (no loopback, no overlay). */
  ownIps: string[]
  /** The NAT probe's answer: the address a relay saw for a dial from our listening port. */
  probed: string | null
  preservesPort: boolean | null
  listenPort: number | null
  /** The router's external IP of a live port mapping (UPnP / NAT-PMP), if any. */
  mappedIp: string | null
}

export interface NatDescription {
  kind: NatKind
  reason: string
}

/** The NAT we are behind and why we think so (one sentence, says what it means for paths). */
export function describeNat(f: NatFacts): NatDescription {
  const cgnatOwn = f.ownIps.filter(isCgnatIp)
  const seen = f.observed.join(', ')
  if (f.observed.length === 0) {
    if (cgnatOwn.length > 0)
      return {
        kind: 'double-nat',
        reason: `carrier-grade NAT: our address ${cgnatOwn[0]} is in 100.64.0.0/10; no member has told us our public address yet`,
      }
    return { kind: 'unknown', reason: 'no member has told us our public address yet' }
  }
  const behind = f.observed.filter((ip) => !f.ownIps.includes(ip))
  if (behind.length === 0)
    return { kind: 'public', reason: `public: members see us at our own address ${seen}` }
  const symmetric = f.preservesPort === false
  const tail = symmetric
    ? `and it changes our port (a dial from ${f.listenPort ?? '?'} arrived from ${f.probed ?? '?'}): peers behind NATs reach us through a relay`
    : f.preservesPort === true
      ? 'and it keeps our port: hole punching can make paths direct'
      : 'hole punching will tell whether paths can be direct'
  if (
    f.mappedIp != null &&
    !f.observed.includes(f.mappedIp) &&
    (isLanIp(f.mappedIp) || isCgnatIp(f.mappedIp))
  )
    return {
      kind: 'double-nat',
      reason: `double NAT: our router maps our port on ${f.mappedIp}, itself behind another NAT (members see us at ${seen}); the mapping does not reach the Internet, ${tail}`,
    }
  if (cgnatOwn.length > 0)
    return {
      kind: 'double-nat',
      reason: `carrier-grade NAT: our address ${cgnatOwn[0]} is in 100.64.0.0/10 and members see us at ${seen}, ${tail}`,
    }
  if (f.mappedIp != null && f.observed.includes(f.mappedIp))
    return { kind: 'mapped', reason: `behind a NAT that forwards our port to us (mapped on ${f.mappedIp})` }
  return {
    kind: symmetric ? 'symmetric-nat' : 'nat',
    reason: `behind a NAT (members see us at ${seen}), ${tail}`,
  }
}
