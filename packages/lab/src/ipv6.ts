/**
 * The lab's view of IPv6 segments: a segment may carry an IPv6 prefix beside its IPv4 CIDR, and a
 * host's IPv6 address there is the prefix plus the same host number as its IPv4 address (so
 * 198.18.60.10 on 2001:2:0:60::/64 is 2001:2:0:60::a). Addresses are BigInts; text is RFC 5952
 * (what `ip`, `ss` and Node print), so tests can compare strings.
 */
import { isIP } from 'node:net'
import { LabAddressError } from './errors.ts'

/** A parsed lab IPv6 prefix. */
export interface Cidr6 {
  readonly text: string
  readonly network: bigint
  readonly bits: number
}

const ALL = (1n << 128n) - 1n

/** Parses an IPv6 literal to a 128-bit integer; undefined when malformed. */
export function parseIpv6(text: string): bigint | undefined {
  if (isIP(text) !== 6 || text.includes('.')) return undefined
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail == null || tail === '' ? [] : tail.split(':')
  const groups = tail == null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  if (groups.length !== 8) return undefined
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n)
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of 2+ zero groups as `::`. */
export function formatIpv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn))
  let best = { at: -1, len: 0 }
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.len) best = { at: i, len: j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best.len < 2) return hex.join(':')
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`
}

/** Parses 'x::/n' (n 48..120); the host part must be zero. Throws LabAddressError. */
export function parseCidr6(text: string): Cidr6 {
  const [ip, len] = text.split('/')
  const bits = Number(len)
  const n = parseIpv6(ip ?? '')
  if (n === undefined || !Number.isInteger(bits) || bits < 48 || bits > 120) {
    throw new LabAddressError(
      `cidr6 ${JSON.stringify(text)} is not an IPv6 x::/48..120, e.g. '2001:2:0:60::/64'`,
    )
  }
  const mask = (ALL >> BigInt(128 - bits)) << BigInt(128 - bits)
  if ((n & mask) !== n) {
    throw new LabAddressError(`cidr6 ${text} has host bits set; use ${formatIpv6(n & mask)}/${bits}`)
  }
  return { text, network: n, bits }
}

/** The address with host number `host` in `cidr` (the IPv4 address's offset in its segment). */
export function hostIpv6(cidr: Cidr6, host: number): string {
  return formatIpv6(cidr.network + BigInt(host))
}

export function cidr6Overlap(a: Cidr6, b: Cidr6): boolean {
  const bits = BigInt(128 - Math.min(a.bits, b.bits))
  return a.network >> bits === b.network >> bits
}
