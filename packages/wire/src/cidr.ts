/**
 * IPv4 addresses and CIDR blocks as text: the one parser of dotted quads and `a.b.c.d/p` for every
 * package (mesh, dns, daemon, cli, lab). Addresses are unsigned 32-bit numbers; bad text is a value
 * (-1, or `{ ok: false, reason }`), never an exception. The packet accessors are ipv4.ts.
 */

/**
 * Parse a dotted-quad IPv4 address (`'10.144.0.1'`) into an unsigned 32-bit number, or -1 when the
 * text is not exactly four decimal octets 0-255 without leading zeros.
 */
export function ipToUint32(text: string): number {
  if (typeof text !== 'string' || text.length < 7 || text.length > 15) return -1
  let n = 0
  let octet = 0
  let digits = 0
  let parts = 0
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46 // virtual trailing '.'
    if (c === 46) {
      if (digits === 0 || octet > 255) return -1
      n = n * 256 + octet
      parts++
      octet = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1 // leading zero
      octet = octet * 10 + (c - 48)
      digits++
      if (digits > 3) return -1
    } else {
      return -1
    }
  }
  return parts === 4 ? n : -1
}

/** Format an unsigned 32-bit number as a dotted quad. */
export function uint32ToIp(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`
}

/** Network mask for a prefix length 0-32, as an unsigned 32-bit number. */
export function prefixToMask(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0
}

/** A parsed IPv4 CIDR block. `base` has the host bits cleared; `ip` is the address as written. */
export interface Cidr {
  base: number
  prefix: number
  mask: number
  ip: number
}

/** Result of `parseCidr`. */
export type CidrResult = ({ ok: true } & Cidr) | { ok: false; reason: string }

/**
 * Parse `'10.144.0.0/16'`. Host bits in the address are allowed here (`ip` keeps them, `base`
 * clears them); check `ip === base` when a canonical network block is required.
 */
export function parseCidr(text: string): CidrResult {
  if (typeof text !== 'string') return { ok: false, reason: 'CIDR must be a string' }
  const slash = text.indexOf('/')
  if (slash < 0) return { ok: false, reason: `'${clip(text)}' is not a CIDR block (expected a.b.c.d/prefix)` }
  const ip = ipToUint32(text.slice(0, slash))
  if (ip < 0) return { ok: false, reason: `'${clip(text)}' does not start with a dotted-quad IPv4 address` }
  const p = text.slice(slash + 1)
  if (!/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(p)) {
    return { ok: false, reason: `'${clip(text)}' has a bad prefix length (expected 0-32)` }
  }
  const prefix = Number(p)
  const mask = prefixToMask(prefix)
  return { ok: true, base: (ip & mask) >>> 0, prefix, mask, ip }
}

/** True when `ip` (unsigned 32-bit) lies inside `cidr`. */
export function cidrContains(cidr: { base: number; mask: number }, ip: number): boolean {
  return (ip & cidr.mask) >>> 0 === cidr.base
}

/** True when the two blocks share at least one address (one of them contains the other). */
export function cidrsOverlap(a: { base: number; mask: number }, b: { base: number; mask: number }): boolean {
  const m = (a.mask & b.mask) >>> 0
  return (a.base & m) >>> 0 === (b.base & m) >>> 0
}

/** True when every address of `inner` lies inside `outer`. */
export function cidrWithin(
  inner: { base: number; prefix: number },
  outer: { base: number; mask: number; prefix: number },
): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.base)
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}...` : s
}
