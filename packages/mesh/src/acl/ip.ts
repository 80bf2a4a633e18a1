/**
 * IPv4 addresses as plain uint32 numbers (`>>> 0`), the form every ACL hot path uses. The parser is
 * @meshlan/wire's (cidr.ts); these are the names the ACL code and its tests use.
 */
import { ipToUint32, prefixToMask, uint32ToIp } from '@meshlan/wire'

/**
 * Parses dotted-quad IPv4 text (`10.144.3.7`) into a uint32. Returns undefined for anything else,
 * including octets with leading zeros (`010.1.1.1`, ambiguous: octal or decimal?).
 */
export function parseIpv4(text: string): number | undefined {
  const n = ipToUint32(text)
  return n < 0 ? undefined : n
}

/** Formats a uint32 IPv4 address as dotted-quad text. */
export const formatIpv4: (ip: number) => string = uint32ToIp

/** The netmask of a prefix length 0–32 as a uint32 (`/0` → 0, `/32` → 0xffffffff). */
export const prefixMask: (prefix: number) => number = prefixToMask
