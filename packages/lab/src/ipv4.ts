import { LabAddressError } from './errors.ts'

/** A parsed IPv4 CIDR. Addresses are unsigned 32-bit integers. */
export interface Cidr {
  readonly text: string
  readonly network: number
  readonly bits: number
  readonly size: number
}

/** Parses a dotted quad; undefined when malformed. */
export function parseIpv4(text: string): number | undefined {
  if (typeof text !== 'string') return undefined
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let n = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined
    const v = Number(p)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** Parses 'a.b.c.d/n' (n 8..30); the host part must be zero. Throws LabAddressError. */
export function parseCidr(text: string): Cidr {
  const m = typeof text === 'string' ? /^([\d.]+)\/(\d{1,2})$/.exec(text) : null
  const addr = m ? parseIpv4(m[1]) : undefined
  const bits = m ? Number(m[2]) : Number.NaN
  if (addr === undefined || !(bits >= 8 && bits <= 30)) {
    throw new LabAddressError(
      `cidr ${JSON.stringify(text)} is not an IPv4 a.b.c.d/8..30, e.g. '198.18.1.0/24'`,
    )
  }
  const size = 2 ** (32 - bits)
  if (addr % size !== 0) {
    throw new LabAddressError(
      `cidr ${text} has host bits set; use ${formatIpv4(addr - (addr % size))}/${bits}`,
    )
  }
  return { text, network: addr, bits, size }
}

/** True when `addr` is a usable host address of `cidr` (not network, not broadcast). */
export function inCidr(cidr: Cidr, addr: number): boolean {
  return addr > cidr.network && addr < cidr.network + cidr.size - 1
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size
}
