/** Small IPv4 helpers (text ↔ uint32, CIDR membership, reverse names). Bad input returns null. */

const OCTET_RE = /^(0|[1-9][0-9]{0,2})$/

/** `a.b.c.d` → uint32, or null when the text is not a dotted-quad IPv4 address. */
export function ipv4ToUint32(text: string): number | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let n = 0
  for (const p of parts) {
    if (!OCTET_RE.test(p)) return null
    const v = Number(p)
    if (v > 255) return null
    n = n * 256 + v
  }
  return n
}

export function uint32ToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

export interface Ipv4Cidr {
  base: number
  prefix: number
}

/** `a.b.c.d/p` → network base and prefix, or null when malformed. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | null {
  const slash = text.indexOf('/')
  if (slash < 0) return null
  const ip = ipv4ToUint32(text.slice(0, slash))
  const ptext = text.slice(slash + 1)
  if (ip == null || !/^[0-9]{1,2}$/.test(ptext)) return null
  const prefix = Number(ptext)
  if (prefix > 32) return null
  return { base: maskOf(ip, prefix), prefix }
}

function maskOf(ip: number, prefix: number): number {
  if (prefix === 0) return 0
  return (ip & (0xffffffff << (32 - prefix))) >>> 0
}

export function cidrHas(cidr: Ipv4Cidr, ip: string): boolean {
  const n = ipv4ToUint32(ip)
  return n != null && maskOf(n, cidr.prefix) === cidr.base
}

/**
 * `d.c.b.a.in-addr.arpa` (lower case, no trailing dot) → `a.b.c.d`, or null when the name is not a
 * complete IPv4 reverse name.
 */
export function reverseNameToIpv4(name: string): string | null {
  if (!name.endsWith('.in-addr.arpa')) return null
  const labels = name.slice(0, -'.in-addr.arpa'.length).split('.')
  if (labels.length !== 4) return null
  const ip = labels.reverse().join('.')
  return ipv4ToUint32(ip) == null ? null : ip
}

/** `a.b.c.d` → `d.c.b.a.in-addr.arpa`. */
export function ipv4ToReverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`
}

/**
 * The reverse zones (`in-addr.arpa` suffixes) that cover a CIDR: one zone when the prefix falls on an
 * octet boundary, else one per value of the partial octet when that is at most `maxZones`, else the
 * enclosing octet zone (wider than the CIDR). Prefixes shorter than 8 give no zone.
 */
export function reverseZonesFor(cidr: Ipv4Cidr, maxZones = 16): string[] {
  if (cidr.prefix < 8) return []
  const octets = uint32ToIpv4(cidr.base).split('.').map(Number)
  const full = Math.floor(cidr.prefix / 8)
  const zoneOf = (parts: number[]): string => `${parts.slice().reverse().join('.')}.in-addr.arpa`
  const rest = cidr.prefix % 8
  if (rest === 0) return [zoneOf(octets.slice(0, full))]
  const count = 1 << (8 - rest)
  if (count > maxZones) return [zoneOf(octets.slice(0, full))]
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push(zoneOf([...octets.slice(0, full), octets[full] + i]))
  return out
}
