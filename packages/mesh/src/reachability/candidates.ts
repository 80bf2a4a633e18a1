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
import { MAX_PUNCH_DIALS } from './constants.ts'

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

/** Binary (from a CONNECT) or text multiaddrs → usable IPv4/TCP candidates; the rest skipped. */
export function toCandidates(addrs: Uint8Array[] | string[]): Candidate[] {
  const out: Candidate[] = []
  for (const a of addrs) {
    try {
      const parts = multiaddr(a).getComponents()
      const ip = parts.find((p) => p.name === 'ip4')?.value
      const port = parts.find((p) => p.name === 'tcp')?.value
      if (ip != null && port != null && !ip.startsWith('127.') && ip !== '0.0.0.0')
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
    else if (isLanIp(c.ip) && !ctx.sharesNat && !ctx.peerMapped.has(c.ip)) dropped.lan++
    else keep.push(c)
  }
  // candidates arrive public-first; behind a shared NAT the shared public address goes last
  const sorted = ctx.sharesNat
    ? [...keep].sort((a, b) => Number(ctx.ourObserved.has(a.ip)) - Number(ctx.ourObserved.has(b.ip)))
    : keep
  dropped.capped = Math.max(0, sorted.length - MAX_PUNCH_DIALS)
  return { dial: sorted.slice(0, MAX_PUNCH_DIALS), dropped }
}

/** Our candidates for a CONNECT: observed public IPs (most recent first), then LAN IPs; capped. */
export function candidateAddrs(observedIps: string[], lanIps: string[], port: number): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const ip of [...observedIps, ...lanIps]) {
    if (seen.has(ip)) continue
    seen.add(ip)
    out.push(`/ip4/${ip}/tcp/${port}`)
    if (out.length >= MAX_PUNCH_DIALS) break
  }
  return out
}
