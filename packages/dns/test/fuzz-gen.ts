/**
 * Hostile DNS message generators for the fuzz tests, driven by a seeded PRNG so a failure can be
 * replayed with the printed seed.
 */
import { buildQuery } from './helpers.ts'

export { prng as rng } from '@meshlan/testkit'

export type Rng = () => number

const int = (r: Rng, n: number): number => Math.floor(r() * n)

function randomBytes(r: Rng, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = int(r, 256)
  return b
}

const NAMES = [
  'b.mesh',
  'a.home.mesh',
  'mesh',
  'nosuch.mesh',
  'example.test',
  '2.0.144.10.in-addr.arpa',
  'x.y.z',
]
const TYPES = [1, 12, 28, 15, 255, 6, 16, 0, 65535]

function header(r: Rng, counts: [number, number, number, number], flags = 0x0100): Buffer {
  const h = Buffer.alloc(12)
  h.writeUInt16BE(int(r, 65536), 0)
  h.writeUInt16BE(flags, 2)
  for (let i = 0; i < 4; i++) h.writeUInt16BE(counts[i], 4 + 2 * i)
  return h
}

/** One hostile message; `kind` says which family it came from. */
export function hostile(r: Rng): { kind: string; msg: Buffer } {
  const k = int(r, 10)
  switch (k) {
    case 0:
      return { kind: 'random', msg: randomBytes(r, int(r, 600)) }
    case 1:
      return { kind: 'short', msg: randomBytes(r, int(r, 13)) }
    case 2: {
      // A valid query with a few bytes flipped.
      const m = Buffer.from(
        buildQuery(NAMES[int(r, NAMES.length)], TYPES[int(r, TYPES.length)], { edns: r() < 0.3 }),
      )
      const flips = 1 + int(r, 4)
      for (let i = 0; i < flips; i++) m[int(r, m.length)] = int(r, 256)
      m[2] &= 0x7f // keep QR clear so it reaches the parser
      return { kind: 'mutated', msg: m }
    }
    case 3: {
      const m = buildQuery(NAMES[int(r, NAMES.length)], TYPES[int(r, TYPES.length)], { edns: r() < 0.5 })
      return { kind: 'truncated', msg: m.subarray(0, int(r, m.length)) }
    }
    case 4: {
      // Huge label counts: hundreds of 1-byte labels (the name is far over 255 octets).
      const labels = 100 + int(r, 400)
      const parts: Buffer[] = [header(r, [1, 0, 0, 0])]
      for (let i = 0; i < labels; i++) parts.push(Buffer.from([1, 97 + int(r, 26)]))
      parts.push(Buffer.from([0, 0, 1, 0, 1]))
      return { kind: 'labels', msg: Buffer.concat(parts) }
    }
    case 5: {
      // Compression loops: self-pointers, two-step cycles, pointers past the end.
      const h = header(r, [1, 0, 0, 0])
      const v = int(r, 4)
      const body =
        v === 0
          ? Buffer.from([0xc0, 12, 0, 1, 0, 1])
          : v === 1
            ? Buffer.from([1, 97, 0xc0, 16, 0xc0, 12, 0, 1, 0, 1])
            : v === 2
              ? Buffer.from([0xc0 | int(r, 64), int(r, 256), 0, 1, 0, 1])
              : Buffer.from([0x40 | int(r, 64), 97, 0, 0, 1, 0, 1]) // reserved label types
      return { kind: 'compression', msg: Buffer.concat([h, body]) }
    }
    case 6: {
      // Section counts that lie.
      const m = Buffer.from(buildQuery(NAMES[int(r, NAMES.length)], 1))
      for (let i = 4; i < 12; i += 2) m.writeUInt16BE(r() < 0.5 ? 65535 : int(r, 8), i)
      return { kind: 'counts', msg: m }
    }
    case 7: {
      // Odd header bits: opcodes, z/ad/cd, rcode set in a query.
      const m = Buffer.from(buildQuery(NAMES[int(r, NAMES.length)], 1))
      m[2] = int(r, 128)
      m[3] = int(r, 256)
      return { kind: 'header', msg: m }
    }
    case 8: {
      // EDNS with garbage options or a bad version.
      const q = buildQuery(NAMES[int(r, NAMES.length)], 1)
      const q1 = Buffer.from(q)
      q1.writeUInt16BE(1, 10)
      const optLen = int(r, 40)
      const opt = Buffer.alloc(11)
      opt[0] = 0
      opt.writeUInt16BE(41, 1)
      opt.writeUInt16BE(int(r, 65536), 3)
      opt.writeUInt32BE(r() < 0.5 ? 0 : int(r, 2 ** 32), 5)
      opt.writeUInt16BE(optLen + int(r, 3), 9)
      return { kind: 'edns', msg: Buffer.concat([q1, opt, randomBytes(r, optLen)]) }
    }
    default: {
      // A response (QR set) aimed at us: must be dropped, never answered.
      const m = Buffer.from(buildQuery(NAMES[int(r, NAMES.length)], 1))
      m[2] |= 0x80
      return { kind: 'response', msg: m }
    }
  }
}
