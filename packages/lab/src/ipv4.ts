/**
 * The lab's view of IPv4 segments: usable host ranges and clashes, over @meshlan/wire's parser.
 * A lab CIDR is stricter than a CIDR: /8../30 (room for hosts and a router) and host bits clear.
 */
import { cidrsOverlap as blocksOverlap, ipToUint32, parseCidr as parseBlock, uint32ToIp } from '@meshlan/wire'
import { LabAddressError } from './errors.ts'

/** A parsed lab segment CIDR. Addresses are unsigned 32-bit integers. */
export interface Cidr {
  readonly text: string
  readonly network: number
  readonly mask: number
  readonly bits: number
  readonly size: number
}

/** Parses a dotted quad; undefined when malformed. */
export function parseIpv4(text: string): number | undefined {
  const n = ipToUint32(text)
  return n < 0 ? undefined : n
}

export const formatIpv4: (n: number) => string = uint32ToIp

/** Parses 'a.b.c.d/n' (n 8..30); the host part must be zero. Throws LabAddressError. */
export function parseCidr(text: string): Cidr {
  const c = parseBlock(text)
  if (!c.ok || c.prefix < 8 || c.prefix > 30) {
    throw new LabAddressError(
      `cidr ${JSON.stringify(text)} is not an IPv4 a.b.c.d/8..30, e.g. '198.18.1.0/24'`,
    )
  }
  if (c.ip !== c.base) {
    throw new LabAddressError(`cidr ${text} has host bits set; use ${uint32ToIp(c.base)}/${c.prefix}`)
  }
  return { text, network: c.base, mask: c.mask, bits: c.prefix, size: 2 ** (32 - c.prefix) }
}

/** True when `addr` is a usable host address of `cidr` (not network, not broadcast). */
export function inCidr(cidr: Cidr, addr: number): boolean {
  return addr > cidr.network && addr < cidr.network + cidr.size - 1
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return blocksOverlap({ base: a.network, mask: a.mask }, { base: b.network, mask: b.mask })
}
