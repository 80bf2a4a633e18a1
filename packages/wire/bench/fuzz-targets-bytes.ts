/**
 * (Over 500 lines: one fuzz target per parser a peer can reach, side by side so the targets stay alike.)
 *
 * Fuzz targets for the binary parsers a remote peer reaches: the IPv4 accessors and PacketHeader
 * (every packet of a tunnel stream), the FrameDecoder (every tunnel stream), control messages,
 * the hello handshake messages (what a stranger can send) and DCUtR messages.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import {
  checkIpv4,
  createFrameBatch,
  DCUTR_CONNECT,
  DCUTR_SYNC,
  decodeControl,
  decodeHelloAnswer,
  decodeHelloOffer,
  decodeHolePunch,
  encodeControl,
  encodeFrame,
  encodeHelloAnswer,
  encodeHelloOffer,
  encodeHolePunch,
  FrameDecoder,
  HEADER_OK,
  HEADER_REASONS,
  type HelloAnswer,
  type HelloProof,
  type HolePunch,
  IPV4_OK,
  IPV4_REASONS,
  icmpType,
  ipv4Dst,
  ipv4HeaderLen,
  ipv4Proto,
  ipv4Src,
  ipv4TotalLen,
  isFragmentNonFirst,
  l4DstPort,
  l4SrcPort,
  MAX_DCUTR_MESSAGE,
  MAX_FRAME_PAYLOAD,
  MAX_HELLO_BYTES,
  PacketHeader,
  tcpFlags,
} from '../src/index.ts'
import type { Fixtures } from './fuzz-fixtures.ts'
import {
  type Case,
  int,
  mutateBytes,
  mutateJson,
  pick,
  type Rand,
  randomBytes,
  randomLength,
  same,
  type Target,
  utf8,
} from './fuzz-kit.ts'

// ---------------------------------------------------------------- IPv4 packets

function ipPacket(rand: Rand, proto: number, l4: Uint8Array, options = 0, frag = 0): Uint8Array {
  const hl = 20 + options
  const b = new Uint8Array(hl + l4.length)
  b[0] = 0x40 | (hl >> 2)
  b[2] = b.length >> 8
  b[3] = b.length & 0xff
  b[6] = (frag >> 8) & 0x3f
  b[7] = frag & 0xff
  b[8] = 64
  b[9] = proto
  b.set([10, 144, int(rand, 256), int(rand, 256), 10, 144, int(rand, 256), int(rand, 256)], 12)
  for (let i = 20; i < hl; i++) b[i] = 1
  b.set(l4, hl)
  return b
}

function tcp(rand: Rand, payload: number): Uint8Array {
  const opt = 4 * int(rand, 3)
  const l4 = randomBytes(rand, 20 + opt + payload)
  l4[12] = ((20 + opt) >> 2) << 4
  return l4
}

/** A valid packet of a random kind: TCP, UDP, ICMP echo, ICMP errors quoting a flow, fragments. */
function validPacket(rand: Rand): Uint8Array {
  const opts = rand() < 0.8 ? 0 : 4 * int(rand, 11)
  switch (int(rand, 6)) {
    case 0:
      return ipPacket(rand, 6, tcp(rand, int(rand, 64)), opts)
    case 1: {
      const n = int(rand, 64)
      const l4 = randomBytes(rand, 8 + n)
      l4[4] = (8 + n) >> 8
      l4[5] = (8 + n) & 0xff
      return ipPacket(rand, 17, l4, opts)
    }
    case 2:
      return ipPacket(rand, 1, Uint8Array.from([pick(rand, [0, 8]), 0, 0, 0, 1, 2, 0, 1, 9, 9]), opts)
    case 3: {
      const inner = ipPacket(rand, pick(rand, [6, 17, 1]), randomBytes(rand, 8 + int(rand, 16)))
      if (inner[9] === 1) inner[20] = 8
      const l4 = new Uint8Array(8 + inner.length)
      l4[0] = pick(rand, [3, 4, 5, 11, 12])
      l4[1] = int(rand, 16)
      l4.set(inner, 8)
      return ipPacket(rand, 1, l4, opts)
    }
    case 4:
      return ipPacket(
        rand,
        pick(rand, [6, 17, 1]),
        randomBytes(rand, int(rand, 32)),
        opts,
        1 + int(rand, 0x1fff),
      )
    default:
      return ipPacket(rand, int(rand, 256), randomBytes(rand, int(rand, 40)), opts)
  }
}

/** Lies in the length fields: IHL, total length, the quoted packet's IHL. */
function lie(rand: Rand, p: Uint8Array): Uint8Array {
  const b = p.slice()
  const op = int(rand, 5)
  if (op === 0) b[0] = (b[0] & 0xf0) | int(rand, 16)
  else if (op === 1) {
    const t = pick(rand, [0, 1, 19, 20, b.length - 1, b.length + 1, 0xffff, (b[0] & 15) * 4 - 1])
    b[2] = (t >> 8) & 0xff
    b[3] = t & 0xff
  } else if (op === 2) b[0] = (int(rand, 16) << 4) | (b[0] & 15)
  else if (op === 3 && b.length > 28) b[28] = (b[28] & 0xf0) | int(rand, 16)
  else b[9] = pick(rand, [1, 6, 17, 0, 255])
  return b
}

interface Window {
  off: number
  len: number
}

function genPacket(rand: Rand): Case<Uint8Array> {
  const r = rand()
  let p: Uint8Array
  let mode: string
  if (r < 0.1) {
    mode = 'random'
    p = randomBytes(rand, randomLength(rand, 200))
    if (p.length > 0 && rand() < 0.7) p[0] = 0x40 | (p[0] & 15)
  } else if (r < 0.25) {
    mode = 'valid'
    p = validPacket(rand)
  } else if (r < 0.55) {
    mode = 'length-lie'
    p = lie(rand, validPacket(rand))
  } else {
    mode = 'bytes'
    p = mutateBytes(rand, validPacket(rand), undefined, 70_000)
  }
  // the packet sits in a slab window, like the pump's; sometimes the window itself lies
  const pre = int(rand, 8)
  const buf = randomBytes(rand, pre + p.length + int(rand, 8))
  buf.set(p, pre)
  const w: Window = { off: pre, len: p.length }
  if (rand() < 0.05) w.off += int(rand, 9) - 4
  if (rand() < 0.05) w.len += int(rand, 9) - 4
  return { input: buf, mode, meta: w }
}

function accessors(buf: Uint8Array, off: number): number[] {
  return [
    ipv4HeaderLen(buf, off),
    ipv4TotalLen(buf, off),
    ipv4Proto(buf, off),
    ipv4Src(buf, off),
    ipv4Dst(buf, off),
    l4SrcPort(buf, off),
    l4DstPort(buf, off),
    icmpType(buf, off),
    tcpFlags(buf, off),
    isFragmentNonFirst(buf, off) ? 1 : 0,
  ]
}

/** The same window, surrounded by other bytes: a parser that reads outside it answers differently. */
function moved(buf: Uint8Array, w: Window, total: number): { buf: Uint8Array; off: number } {
  const out = new Uint8Array(w.len + 16).fill(0xa5)
  out.set(buf.subarray(w.off, w.off + Math.min(total, w.len)), 8)
  return { buf: out, off: 8 }
}

export const ipv4Target: Target = {
  name: 'ipv4',
  about:
    'checkIpv4 + accessors over a slab window: codes in range; on OK fields in range and read only inside the packet',
  async setup() {
    return {
      gen: genPacket,
      run(c) {
        const w = c.meta as Window
        const code = checkIpv4(c.input, w.off, w.len)
        if (code !== IPV4_OK) return { ok: false, reason: IPV4_REASONS[code] ?? `code ${code}` }
        return { ok: true, value: accessors(c.input, w.off) }
      },
      check(c, v) {
        if (!v.ok) return IPV4_REASONS.includes(v.reason) ? null : `bad-code: ${v.reason}`
        const [hl, total, proto, src, dst, sp, dp, icmp, flags] = v.value as number[]
        const w = c.meta as Window
        if (!(hl >= 20 && hl <= total && total <= w.len)) return `range: hl ${hl} total ${total} len ${w.len}`
        if (proto > 255 || src > 0xffffffff || dst > 0xffffffff || sp > 65535 || dp > 65535)
          return 'range: field out of range'
        if (icmp < -1 || icmp > 255 || flags < 0 || flags > 255) return 'range: icmp/flags'
        const m = moved(c.input, w, total)
        if (!same(accessors(m.buf, m.off), v.value))
          return 'reads-outside: accessors read past the IP total length'
        return null
      },
    }
  },
}

function headerFields(h: PacketHeader): number[] {
  return [
    h.src,
    h.dst,
    h.proto,
    h.headerLen,
    h.totalLen,
    h.fragment ? 1 : 0,
    h.sport,
    h.dport,
    h.icmpType,
    h.icmpCode,
    h.icmpError ? 1 : 0,
    h.innerProto,
    h.innerSrc,
    h.innerDst,
    h.innerSport,
    h.innerDport,
  ]
}

export const headerTarget: Target = {
  name: 'header',
  about:
    'PacketHeader.parse: same verdict as checkIpv4 (or BAD_ICMP_ERROR), fields agree with the accessors, reads only inside the packet',
  async setup() {
    const h = new PacketHeader()
    const h2 = new PacketHeader()
    return {
      gen: genPacket,
      run(c) {
        const w = c.meta as Window
        const code = h.parse(c.input, w.off, w.len)
        if (code !== HEADER_OK) return { ok: false, reason: HEADER_REASONS[code] ?? `code ${code}` }
        return { ok: true, value: headerFields(h) }
      },
      check(c, v) {
        const w = c.meta as Window
        const base = checkIpv4(c.input, w.off, w.len)
        if (!v.ok) {
          if (base !== IPV4_OK)
            return v.reason === IPV4_REASONS[base] ? null : `verdict: ${v.reason} vs ${IPV4_REASONS[base]}`
          return v.reason === 'BAD_ICMP_ERROR' ? null : `verdict: ${v.reason} on a valid IPv4 packet`
        }
        if (base !== IPV4_OK) return `verdict: header OK, checkIpv4 ${IPV4_REASONS[base]}`
        const f = v.value as number[]
        const a = accessors(c.input, w.off)
        if (
          f[0] !== a[3] ||
          f[1] !== a[4] ||
          f[2] !== a[2] ||
          f[3] !== a[0] ||
          f[4] !== a[1] ||
          f[5] !== a[9]
        )
          return 'disagree: header fields differ from the accessors'
        if ((f[2] === 6 || f[2] === 17) && (f[6] !== a[5] || f[7] !== a[6])) return 'disagree: ports'
        for (const x of f.slice(6)) if (x < -1 || x > 0xffffffff) return 'range: header field'
        if (f[6] > 65535 || f[7] > 65535 || f[14] > 65535 || f[15] > 65535) return 'range: port'
        const m = moved(c.input, w, f[4])
        h2.parse(m.buf, m.off, Math.min(f[4], w.len))
        if (!same(headerFields(h2), f)) return 'reads-outside: header parse read past the IP total length'
        return null
      },
    }
  },
}

// ---------------------------------------------------------------- frames

interface FrameCase {
  chunks: Uint8Array[]
  controlOnly: boolean
  max: number
  list: boolean
}

export function frameTarget(fx: Fixtures): Target<Uint8Array[]> {
  return {
    name: 'frame',
    about:
      'FrameDecoder over a split stream: holds ≤ maxBufferBytes, makes progress, frames in bounds, re-encoding the frames gives back the stream prefix they came from',
    async setup() {
      const controls = fx.controls
      const good = (rand: Rand): Uint8Array => {
        const k = int(rand, 10)
        if (k < 4) return encodeFrame(1, validPacket(rand))
        if (k < 6) return encodeFrame(2, pick(rand, controls))
        if (k < 8) return encodeFrame(3, randomBytes(rand, 10 + int(rand, 100)))
        if (k === 8) return encodeFrame(1, new Uint8Array(rand() < 0.5 ? 0 : MAX_FRAME_PAYLOAD))
        return encodeFrame(pick(rand, [1, 2, 3]), randomBytes(rand, int(rand, 2000)))
      }
      let maxHeld = 0
      let frames = 0
      let errors = 0
      return {
        gen(rand) {
          const parts: Uint8Array[] = []
          for (let j = 1 + int(rand, 6); j > 0; j--) parts.push(good(rand))
          let stream = Buffer.concat(parts) as Uint8Array
          const r = rand()
          let mode = 'valid'
          if (r < 0.1) {
            mode = 'random'
            stream = randomBytes(rand, randomLength(rand, 4096))
          } else if (r < 0.4) {
            mode = 'length-lie'
            stream = stream.slice()
            // a header's u24 length says something else
            let at = 0
            const target = int(rand, parts.length)
            for (let j = 0; j < target; j++) at += parts[j].length
            const v = pick(rand, [
              0,
              1,
              MAX_FRAME_PAYLOAD,
              MAX_FRAME_PAYLOAD + 1,
              0xffffff,
              parts[target].length - 5,
              parts[target].length - 3,
            ])
            stream[at + 1] = (v >> 16) & 0xff
            stream[at + 2] = (v >> 8) & 0xff
            stream[at + 3] = v & 0xff
            if (rand() < 0.3) stream[at] = pick(rand, [0, 4, 0xff, 2, 3])
          } else if (r < 0.8) {
            mode = 'bytes'
            stream = mutateBytes(rand, stream)
          }
          // split at random points; sometimes as a Uint8ArrayList chunk
          const chunks: Uint8Array[] = []
          let pos = 0
          while (pos < stream.length) {
            const n = rand() < 0.3 ? stream.length - pos : 1 + int(rand, stream.length - pos)
            chunks.push(stream.subarray(pos, pos + n))
            pos += n
          }
          const meta: FrameCase = {
            chunks,
            controlOnly: rand() < 0.15,
            max: rand() < 0.2 ? pick(rand, [4, 64, 4096, 70_000]) : 0,
            list: rand() < 0.2,
          }
          return { input: chunks, mode, meta }
        },
        run(c) {
          const m = c.meta as FrameCase
          const dec = new FrameDecoder({
            initialBufferBytes: 64,
            controlOnly: m.controlOnly,
            ...(m.max > 0 ? { maxBufferBytes: m.max } : {}),
          })
          const batch = createFrameBatch(4)
          const out: Uint8Array[] = []
          let held = 0
          let steps = 0
          for (const chunk of m.chunks) {
            dec.push(m.list ? new Uint8ArrayList(chunk) : chunk)
            held = Math.max(held, dec.buffered, batch.buf.length)
            for (;;) {
              if (++steps > 1_000_000) return { ok: false, reason: 'NO_PROGRESS' }
              const r = dec.decode(batch)
              held = Math.max(held, batch.buf.length)
              if (typeof r !== 'number') {
                return { ok: false, reason: r.error, value: { out, held, max: dec.maxBufferBytes } }
              }
              if (r === 0) break
              if (m.controlOnly && batch.count > 0) return { ok: false, reason: 'IP_FRAME_ON_CONTROL_ONLY' }
              for (let f = 0; f < batch.count; f++) {
                const o = batch.offsets[f]
                const l = batch.lengths[f]
                if (o + l > batch.buf.length || l > MAX_FRAME_PAYLOAD)
                  return { ok: false, reason: 'FRAME_OUT_OF_BOUNDS' }
                out.push(encodeFrame(batch.vnet ? 3 : 1, batch.buf.subarray(o, o + l)))
              }
              if (batch.controlOffset >= 0) {
                const o = batch.controlOffset
                out.push(encodeFrame(2, batch.buf.subarray(o, o + batch.controlLength)))
              }
            }
          }
          return { ok: true, value: { out, held, max: dec.maxBufferBytes, buffered: dec.buffered } }
        },
        check(c, v) {
          if (!v.ok) {
            if (
              v.reason === 'NO_PROGRESS' ||
              v.reason === 'FRAME_OUT_OF_BOUNDS' ||
              v.reason === 'IP_FRAME_ON_CONTROL_ONLY'
            )
              return `decoder: ${v.reason}`
            errors++
          }
          const r = (v as { value?: { out: Uint8Array[]; held: number; max: number } }).value
          if (r == null) return null
          maxHeld = Math.max(maxHeld, r.held)
          if (r.held > r.max) return `unbounded: held ${r.held} > maxBufferBytes ${r.max}`
          frames += r.out.length
          // the frames, encoded again, are exactly the stream bytes they were decoded from
          const again = Buffer.concat(r.out)
          const stream = Buffer.concat(c.input)
          if (again.length > stream.length || Buffer.compare(again, stream.subarray(0, again.length)) !== 0)
            return 'roundtrip: re-encoded frames differ from the stream'
          return null
        },
        extra: () => ({ maxHeldBytes: maxHeld, frames, streamErrors: errors }),
        sizeFactor: 4,
      }
    },
  }
}

// ---------------------------------------------------------------- control, hello, dcutr

/** Random, byte-mutated, or structure-mutated (JSON) variants of `seeds`. */
function genJsonish(rand: Rand, seeds: Uint8Array[], objects: unknown[], max: number): Case {
  const r = rand()
  if (r < 0.1) return { input: randomBytes(rand, randomLength(rand, max)), mode: 'random' }
  const k = int(rand, seeds.length)
  if (r < 0.15) return { input: seeds[k], mode: 'valid' }
  if (r < 0.45) return { input: mutateBytes(rand, seeds[k], pick(rand, seeds), max * 2), mode: 'bytes' }
  return { input: mutateJson(rand, objects[k], max), mode: 'json' }
}

export function controlTarget(fx: Fixtures): Target {
  return {
    name: 'control',
    about:
      'decodeControl (type-2 frames): a value or a reason; an accepted message encodes and decodes to itself',
    async setup() {
      const objects = fx.controls.map((b) => JSON.parse(new TextDecoder().decode(b)))
      return {
        gen: (rand) => genJsonish(rand, fx.controls, objects, 4096),
        run: (c) => decodeControl(c.input),
        check(_c, v) {
          if (!v.ok) return null
          let again: Uint8Array
          try {
            again = encodeControl(v.value as never)
          } catch (err) {
            return `reencode-throws: ${(err as Error).message}`
          }
          const d = decodeControl(again)
          return d.ok && same(d.value, v.value) ? null : 'roundtrip: control message changed on re-encode'
        },
      }
    },
  }
}

function genHello(rand: Rand, seeds: Uint8Array[], claims: Uint8Array[]): Case {
  const r = rand()
  const seed = pick(rand, seeds)
  if (r < 0.1) return { input: randomBytes(rand, randomLength(rand, MAX_HELLO_BYTES + 8)), mode: 'random' }
  if (r < 0.2) return { input: seed, mode: 'valid' }
  if (r < 0.5) {
    // the head: version, kind/status, then a claim (mutated) or nothing
    const head = [pick(rand, [1, 1, 1, 0, 2, 255]), pick(rand, [0, 1, 1, 2, 255])]
    if (rand() < 0.5) head.push(pick(rand, [0, 1, 2, 255]))
    const tail = rand() < 0.5 ? mutateBytes(rand, pick(rand, claims)) : pick(rand, claims)
    const len =
      rand() < 0.2
        ? pick(rand, [MAX_HELLO_BYTES - head.length, MAX_HELLO_BYTES + 1 - head.length])
        : tail.length
    const out = new Uint8Array(head.length + len)
    out.set(head, 0)
    out.set(tail.subarray(0, len), head.length)
    return { input: out, mode: 'structure' }
  }
  return { input: mutateBytes(rand, seed, undefined, MAX_HELLO_BYTES + 64), mode: 'bytes' }
}

function sameProof(a: HelloProof, b: HelloProof): boolean {
  if (a.kind !== b.kind) return false
  return a.kind === 'owner' || Buffer.compare(a.claim, (b as { claim: Uint8Array }).claim) === 0
}

export function helloOfferTarget(fx: Fixtures): Target {
  return {
    name: 'hello-offer',
    about:
      'decodeHelloOffer (the first bytes a stranger sends): bounded, an accepted offer encodes and decodes to itself',
    async setup() {
      const seeds = [
        encodeHelloOffer({ kind: 'owner' }),
        encodeHelloOffer({ kind: 'claim', claim: fx.claim }),
      ]
      return {
        gen: (rand) => genHello(rand, seeds, fx.claims),
        run: (c) => decodeHelloOffer(c.input),
        check(c, v) {
          if (!v.ok) return null
          const p = v.value as HelloProof
          if (c.input.length > MAX_HELLO_BYTES) return `unbounded: accepted ${c.input.length} bytes`
          const d = decodeHelloOffer(encodeHelloOffer(p))
          return d.ok && sameProof(d.value, p) ? null : 'roundtrip: offer changed on re-encode'
        },
        sizeFactor: 2,
      }
    },
  }
}

export function helloAnswerTarget(fx: Fixtures): Target {
  return {
    name: 'hello-answer',
    about:
      'decodeHelloAnswer (what a listener we dialled answers): bounded, an accepted answer encodes and decodes to itself',
    async setup() {
      const seeds = [
        encodeHelloAnswer({ admitted: true, proof: { kind: 'owner' } }),
        encodeHelloAnswer({ admitted: true, proof: { kind: 'claim', claim: fx.claim } }),
        encodeHelloAnswer({ admitted: false, reason: 'key laptop is revoked' }),
        encodeHelloAnswer({ admitted: false, reason: 'ключ отозван — 🔑' }),
      ]
      return {
        gen: (rand) => genHello(rand, seeds, [...fx.claims, utf8('x'.repeat(300))]),
        run: (c) => decodeHelloAnswer(c.input),
        check(_c, v) {
          if (!v.ok) return null
          const a = v.value as HelloAnswer
          const d = decodeHelloAnswer(encodeHelloAnswer(a))
          if (!d.ok) return `roundtrip: re-encoded answer refused (${d.reason})`
          if (a.admitted !== d.value.admitted) return 'roundtrip: answer status changed'
          if (a.admitted)
            return sameProof(a.proof, (d.value as { proof: HelloProof }).proof)
              ? null
              : 'roundtrip: proof changed'
          return a.reason === (d.value as { reason: string }).reason
            ? null
            : 'roundtrip: refusal reason changed'
        },
        sizeFactor: 2,
      }
    },
  }
}

function varint(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}

export const dcutrTarget: Target = {
  name: 'dcutr',
  about:
    'decodeHolePunch (DCUtR CONNECT/SYNC from a member): ≤ 32 addresses, ≤ 4 KiB, an accepted message encodes and decodes to itself',
  async setup() {
    const addr = (a: number, port: number) => Uint8Array.from([4, 10, 0, 0, a, 6, port >> 8, port & 0xff])
    const seeds = [
      encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: [addr(1, 4001), addr(2, 4002), addr(3, 65535)] }),
      encodeHolePunch({ type: DCUTR_SYNC, obsAddrs: [] }),
      encodeHolePunch({
        type: DCUTR_CONNECT,
        obsAddrs: Array.from({ length: 32 }, (_, i) => addr(i, 4000 + i)),
      }),
    ]
    return {
      gen(rand) {
        const r = rand()
        if (r < 0.1)
          return { input: randomBytes(rand, randomLength(rand, MAX_DCUTR_MESSAGE + 8)), mode: 'random' }
        if (r < 0.15) return { input: pick(rand, seeds), mode: 'valid' }
        if (r < 0.5) {
          // hand-built fields: length lies, unknown fields and wire types, too many addresses
          const out: number[] = []
          for (let k = 1 + int(rand, 40); k > 0; k--) {
            const f = pick(rand, [1, 2, 2, 2, 3, 15, 0])
            const wire = pick(rand, [0, 2, 2, 1, 5, 3, 7])
            out.push(...varint(f * 8 + wire))
            if (wire === 0)
              out.push(...varint(pick(rand, [100, 300, 0, 2 ** 32, 2 ** 35 - 1, int(rand, 1000)])))
            else if (wire === 2) {
              const n = int(rand, 40)
              const lie = rand() < 0.2 ? pick(rand, [n + 1, 2 ** 31, 2 ** 35 - 1, 0]) : n
              out.push(...varint(lie), ...randomBytes(rand, n))
            } else if (wire === 1 || wire === 5) out.push(...randomBytes(rand, int(rand, wire === 1 ? 9 : 5)))
          }
          return {
            input: Uint8Array.from(out.slice(0, MAX_DCUTR_MESSAGE + int(rand, 16))),
            mode: 'structure',
          }
        }
        return {
          input: mutateBytes(rand, pick(rand, seeds), undefined, MAX_DCUTR_MESSAGE + 64),
          mode: 'bytes',
        }
      },
      run: (c) => decodeHolePunch(c.input),
      check(_c, v) {
        if (!v.ok) return null
        const m = v.value as HolePunch
        if (m.obsAddrs.length > 32) return `unbounded: ${m.obsAddrs.length} addresses`
        const d = decodeHolePunch(encodeHolePunch(m))
        return d.ok && same(d.value, m) ? null : 'roundtrip: hole punch message changed on re-encode'
      },
      sizeFactor: 4,
    }
  },
}
