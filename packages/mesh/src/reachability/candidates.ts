/**
 * Hole-punch candidates: what we announce in a CONNECT, and which of a peer's announced addresses
 * we actually dial. Every remote candidate is a SYN from our listening port to an address a member
 * chose, so the selection is bounded: overlay addresses never (a punch through our own tunnel),
 * LAN/private ranges only when both sides share the NAT or the peer's own signed mapping says
 * that address is its public side, and at most MAX_PUNCH_DIALS of them.
 */
import { ipToUint32, parseCidr } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import { LINK_LOCAL_RANGE, PRIVATE_RANGES } from '../constants.ts'
import { ipFamily, isGlobalIpv6, tcpAddr } from '../ip-family.ts'
import { MAX_PUNCH_DIALS, MAX_PUNCH_IPV6_CANDIDATES } from './constants.ts'

export interface Candidate {
  ip: string
  port: number
}

/**
 * Ranges a home LAN or a carrier NAT hands out (RFC 1918, RFC 6598 CGNAT, link-local): a member
 * steering our SYNs there reaches our own LAN, so they are dialled only behind a shared NAT.
 */
const LAN_RANGES = [...PRIVATE_RANGES, LINK_LOCAL_RANGE].map((c) => {
  const r = parseCidr(c)
  if (!r.ok) throw new Error(`bad built-in range ${c}`)
  return r
})

export function isLanIp(ip: string): boolean {
  const n = ipToUint32(ip)
  return n >= 0 && LAN_RANGES.some((r) => (n & r.mask) >>> 0 === r.base)
}

/**
 * Binary (from a CONNECT) or text multiaddrs → TCP candidates over IPv4 or IPv6; loopback and
 * unspecified addresses skipped (which IPv6 ones are dialled is selectCandidates' decision).
 */
export function toCandidates(addrs: Uint8Array[] | string[]): Candidate[] {
  const out: Candidate[] = []
  for (const a of addrs) {
    try {
      const parts = multiaddr(a).getComponents()
      const ip = parts.find((p) => p.name === 'ip4' || p.name === 'ip6')?.value
      const port = parts.find((p) => p.name === 'tcp')?.value
      if (ip == null || port == null || ip.startsWith('127.') || ip === '0.0.0.0') continue
      if (ipFamily(ip) === 'ipv6' && (ip === '::' || ip === '::1')) continue
      out.push({ ip, port: Number(port) })
    } catch {
      // not a multiaddr we can use: skip it
    }
  }
  return out
}

export interface SelectContext {
  /** False for IPs inside the overlay subnet. */
  underlay(ip: string): boolean
  /** Public IPs members observed for us. */
  ourObserved: ReadonlySet<string>
  /** The peer's signed record says its public mapping is one of our observed IPs. */
  sharesNat: boolean
  /** IPs of the peer's own signed NAT mapping (its record's `observed`). */
  peerMapped: ReadonlySet<string>
}

export interface Selection {
  dial: Candidate[]
  /** Why candidates were left out, counted. */
  dropped: { overlay: number; lan: number; capped: number }
}

/** Which remote candidates to dial, best first, at most MAX_PUNCH_DIALS. */
export function selectCandidates(remote: Candidate[], ctx: SelectContext): Selection {
  const dropped = { overlay: 0, lan: 0, capped: 0 }
  const seen = new Set<string>()
  const keep: Candidate[] = []
  for (const c of remote) {
    const key = `${c.ip}:${c.port}`
    if (seen.has(key)) continue
    seen.add(key)
    if (!ctx.underlay(c.ip)) dropped.overlay++
    // IPv6 has no NAT to share: only global unicast is a path (link-local needs a zone, a ULA
    // is never routed between homes), whoever asks
    else if (ipFamily(c.ip) === 'ipv6') {
      if (isGlobalIpv6(c.ip)) keep.push(c)
      else dropped.lan++
    } else if (isLanIp(c.ip) && !ctx.sharesNat && !ctx.peerMapped.has(c.ip)) dropped.lan++
    else keep.push(c)
  }
  // candidates arrive public-first; behind a shared NAT the shared public address goes last
  const sorted = ctx.sharesNat
    ? [...keep].sort((a, b) => Number(ctx.ourObserved.has(a.ip)) - Number(ctx.ourObserved.has(b.ip)))
    : keep
  dropped.capped = Math.max(0, sorted.length - MAX_PUNCH_DIALS)
  return { dial: sorted.slice(0, MAX_PUNCH_DIALS), dropped }
}

export interface OwnCandidates {
  /** Public IPv4 addresses members observed for us, most recent first. */
  observed: string[]
  /** Our own IPv4 addresses outside the overlay. */
  lan: string[]
  /** Our global unicast IPv6 addresses (isGlobalIpv6; others are left out here too). */
  ipv6: string[]
  /** Our IPv4 and IPv6 listening ports (null: no listener of that family, no candidates). */
  port4: number | null
  port6: number | null
}

/**
 * Our candidates for a CONNECT, capped at MAX_PUNCH_DIALS: global IPv6 first (no NAT in the way,
 * at most MAX_PUNCH_IPV6_CANDIDATES so IPv4 keeps room), then observed public IPv4 (most recent
 * first), then IPv4 LAN addresses.
 */
export function candidateAddrs(own: OwnCandidates): string[] {
  const v6 = own.port6 == null ? [] : own.ipv6.filter(isGlobalIpv6).slice(0, MAX_PUNCH_IPV6_CANDIDATES)
  const v4 = own.port4 == null ? [] : [...own.observed, ...own.lan]
  const out = new Set<string>()
  for (const ip of v6) out.add(tcpAddr(ip, own.port6 ?? 0))
  for (const ip of v4) out.add(tcpAddr(ip, own.port4 ?? 0))
  return [...out].slice(0, MAX_PUNCH_DIALS)
}
