/** IPv4 addresses as plain uint32 numbers (`>>> 0`), the form every ACL hot path uses. */

/**
 * Parses dotted-quad IPv4 text (`10.144.3.7`) into a uint32. Returns undefined for anything else,
 * including octets with leading zeros (`010.1.1.1`, ambiguous: octal or decimal?).
 */
export function parseIpv4(text: string): number | undefined {
  if (text.length < 7 || text.length > 15) return undefined
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined
      value = value * 256 + octet
      octet = 0
      digits = 0
      dots++
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined
      octet = octet * 10 + (c - 48)
      digits++
      if (octet > 255) return undefined
    } else {
      return undefined
    }
  }
  if (dots !== 3 || digits === 0) return undefined
  return (value * 256 + octet) >>> 0
}

/** Formats a uint32 IPv4 address as dotted-quad text. */
export function formatIpv4(ip: number): string {
  const v = ip >>> 0
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`
}

/** The netmask of a prefix length 0–32 as a uint32 (`/0` → 0, `/32` → 0xffffffff). */
export function prefixMask(prefix: number): number {
  return prefix <= 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}
