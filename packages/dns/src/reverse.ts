/** IPv4 reverse names (`d.c.b.a.in-addr.arpa`). Addresses and CIDRs are parsed by @meshlan/wire. */
import { ipToUint32, uint32ToIp } from '@meshlan/wire'

const REVERSE_SUFFIX = '.in-addr.arpa'

/**
 * `d.c.b.a.in-addr.arpa` (lower case, no trailing dot) → `a.b.c.d`, or null when the name is not a
 * complete IPv4 reverse name.
 */
export function reverseNameToIpv4(name: string): string | null {
  if (!name.endsWith(REVERSE_SUFFIX)) return null
  const labels = name.slice(0, -REVERSE_SUFFIX.length).split('.')
  if (labels.length !== 4) return null
  const ip = labels.reverse().join('.')
  return ipToUint32(ip) < 0 ? null : ip
}

/** `a.b.c.d` → `d.c.b.a.in-addr.arpa`. */
export function ipv4ToReverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}${REVERSE_SUFFIX}`
}

/**
 * The reverse zones (`in-addr.arpa` suffixes) that cover a CIDR: one zone when the prefix falls on an
 * octet boundary, else one per value of the partial octet when that is at most `maxZones`, else the
 * enclosing octet zone (wider than the CIDR). Prefixes shorter than 8 give no zone.
 */
export function reverseZonesFor(cidr: { base: number; prefix: number }, maxZones = 16): string[] {
  if (cidr.prefix < 8) return []
  const octets = uint32ToIp(cidr.base).split('.').map(Number)
  const full = Math.floor(cidr.prefix / 8)
  const zoneOf = (parts: number[]): string => `${parts.slice().reverse().join('.')}${REVERSE_SUFFIX}`
  const rest = cidr.prefix % 8
  if (rest === 0) return [zoneOf(octets.slice(0, full))]
  const count = 1 << (8 - rest)
  if (count > maxZones) return [zoneOf(octets.slice(0, full))]
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push(zoneOf([...octets.slice(0, full), octets[full] + i]))
  return out
}
