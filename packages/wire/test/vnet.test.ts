/**
 * Frame type 3 (virtio_net_hdr + IPv4): every validation rule, the two attacks of issue 8 §1,
 * the header rebuild, and a seeded fuzz of the validator's invariants.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  checkVnetFrame,
  rebuildVnetHeader,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_ECN,
  VNET_GSO_TCPV4,
  VNET_HDR_BYTES,
  VNET_MAX_GSO_SEGMENTS,
  VNET_MAX_GSO_SIZE,
  VNET_MIN_GSO_SIZE,
  VNET_REASONS,
  vnetFrameCode,
} from '../src/index.ts'
import { mutate, prng } from './fixtures.ts'

interface Hdr {
  flags?: number
  gsoType?: number
  hdrLen?: number
  gsoSize?: number
  csumStart?: number
  csumOffset?: number
}

interface Pkt {
  proto?: number
  /** L4 header bytes (TCP: 20..60, multiple of 4; UDP: 8). */
  l4hl?: number
  payload?: number
  ipOptions?: number
  frag?: number
  tcpFlags?: number
  sport?: number
  dport?: number
}

/** A type-3 frame payload: vnet header + IPv4 packet (addresses 10.144.0.1 → 10.144.0.2). */
function frame(h: Hdr, p: Pkt = {}): Uint8Array {
  const proto = p.proto ?? 6
  const ihl = 20 + (p.ipOptions ?? 0)
  const l4hl = p.l4hl ?? (proto === 6 ? 20 : proto === 17 ? 8 : 8)
  const total = ihl + l4hl + (p.payload ?? 0)
  const b = new Uint8Array(VNET_HDR_BYTES + total)
  const dv = new DataView(b.buffer)
  b[0] = h.flags ?? 0
  b[1] = h.gsoType ?? 0
  dv.setUint16(2, h.hdrLen ?? 0, true)
  dv.setUint16(4, h.gsoSize ?? 0, true)
  dv.setUint16(6, h.csumStart ?? 0, true)
  dv.setUint16(8, h.csumOffset ?? 0, true)
  const ip = VNET_HDR_BYTES
  b[ip] = 0x40 | (ihl >> 2)
  dv.setUint16(ip + 2, total)
  dv.setUint16(ip + 6, p.frag ?? 0x4000)
  b[ip + 8] = 64
  b[ip + 9] = proto
  b.set([10, 144, 0, 1], ip + 12)
  b.set([10, 144, 0, 2], ip + 16)
  const l4 = ip + ihl
  dv.setUint16(l4, p.sport ?? 40000)
  dv.setUint16(l4 + 2, p.dport ?? 22)
  if (proto === 6) {
    b[l4 + 12] = (l4hl >> 2) << 4
    b[l4 + 13] = p.tcpFlags ?? 0x10
  } else if (proto === 17) {
    dv.setUint16(l4 + 4, l4hl + (p.payload ?? 0))
  }
  for (let i = l4 + l4hl; i < b.length; i++) b[i] = i & 0xff
  return b
}

/** What Linux 6.x puts on a TCP/IPv4 super-packet read from an offload TUN (timestamps on). */
function kernelSuper(payload: number, gsoSize = 1348): Uint8Array {
  return frame(
    { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, hdrLen: 52, gsoSize, csumStart: 20, csumOffset: 16 },
    { l4hl: 32, payload },
  )
}

const check = (b: Uint8Array, maxGso?: number) => checkVnetFrame(b, 0, b.length, maxGso)
const reason = (b: Uint8Array, maxGso?: number) => {
  const v = check(b, maxGso)
  return v.ok ? 'OK' : v.reason
}
const tcpCsum = { flags: VNET_F_NEEDS_CSUM, csumStart: 20, csumOffset: 16 }

describe('frame type 3: the two attacks of issue 8 §1', () => {
  it('refuses a checksum pointed at the TCP destination port (22 → 6379)', () => {
    // the attack: csum_start at the destination port, the "checksum" written over it
    assert.equal(
      reason(frame({ flags: 1, csumStart: 22, csumOffset: 0 }, { dport: 22, payload: 100 })),
      'CSUM_START',
    )
    // the same with csum_start at the L4 header and the offset into the port
    assert.equal(
      reason(frame({ flags: 1, csumStart: 20, csumOffset: 2 }, { dport: 22, payload: 100 })),
      'CSUM_OFFSET',
    )
    // and at the destination address
    assert.equal(reason(frame({ flags: 1, csumStart: 16, csumOffset: 0 }, { payload: 100 })), 'CSUM_START')
    // the honest header for the same packet passes
    assert.equal(reason(frame(tcpCsum, { dport: 22, payload: 100 })), 'OK')
  })

  it('refuses gso_size=1 (one 64 KiB frame would become 65,495 packets)', () => {
    const b = kernelSuper(65535 - 52, 1)
    assert.equal(reason(b), 'GSO_SIZE')
    assert.equal(reason(kernelSuper(65535 - 52, VNET_MIN_GSO_SIZE - 1)), 'GSO_SIZE')
  })
})

describe('frame type 3: each rule', () => {
  it('accepts what a real kernel sends', () => {
    assert.equal(reason(kernelSuper(64000)), 'OK')
    assert.equal(reason(kernelSuper(1349)), 'OK')
    assert.equal(reason(frame(tcpCsum, { payload: 500 })), 'OK')
    assert.equal(reason(frame({ flags: 1, csumStart: 20, csumOffset: 6 }, { proto: 17, payload: 99 })), 'OK')
    assert.equal(reason(frame({}, { proto: 1, payload: 56 })), 'OK', 'ICMP with a zero header')
    assert.equal(reason(frame({ flags: VNET_F_DATA_VALID }, { payload: 10 })), 'OK', 'DATA_VALID')
    assert.equal(reason(frame({}, { proto: 47, frag: 0x2000 })), 'OK', 'a fragment without offloads')
  })

  it('SHORT: under 10 + 20 bytes or a window outside the buffer', () => {
    const b = frame({}, { proto: 1 })
    assert.equal(vnetFrameCode(b, 0, 29), VNET_REASONS.indexOf('SHORT'))
    assert.equal(checkVnetFrame(b, 1, b.length).ok, false)
    assert.equal(checkVnetFrame(b, -1, 10).ok, false)
  })

  it('NOT_IPV4, BAD_IHL, LENGTH_MISMATCH', () => {
    const v6 = frame(tcpCsum, { payload: 10 })
    v6[VNET_HDR_BYTES] = 0x65
    assert.equal(reason(v6), 'NOT_IPV4')
    const ihl4 = frame(tcpCsum, { payload: 10 })
    ihl4[VNET_HDR_BYTES] = 0x44
    assert.equal(reason(ihl4), 'BAD_IHL')
    const ihlLong = frame({}, { proto: 1 })
    ihlLong[VNET_HDR_BYTES] = 0x4f // 60 bytes of header in a 28-byte packet
    assert.equal(reason(ihlLong), 'BAD_IHL')
    const long = frame(tcpCsum, { payload: 10 })
    assert.equal(reason(long.subarray(0, long.length - 1)), 'LENGTH_MISMATCH', 'truncated')
    const padded = new Uint8Array(long.length + 4)
    padded.set(long)
    assert.equal(reason(padded), 'LENGTH_MISMATCH', 'trailing bytes')
  })

  it('BAD_FLAGS: only NEEDS_CSUM or DATA_VALID, never both', () => {
    for (const flags of [4, 0x80, 0xff, VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID])
      assert.equal(reason(frame({ ...tcpCsum, flags }, { payload: 10 })), 'BAD_FLAGS', `flags ${flags}`)
  })

  it('GSO_ECN and BAD_GSO_TYPE: only NONE and TCPV4', () => {
    const ecn = kernelSuper(5000)
    ecn[1] = VNET_GSO_TCPV4 | VNET_GSO_ECN
    assert.equal(reason(ecn), 'GSO_ECN')
    for (const t of [3, 4, 5, 0x7f]) {
      const b = kernelSuper(5000)
      b[1] = t
      assert.equal(reason(b), 'BAD_GSO_TYPE', `gso_type ${t}`)
    }
  })

  it('CSUM_FIELDS_SET: no NEEDS_CSUM, no checksum position', () => {
    assert.equal(reason(frame({ csumStart: 20, csumOffset: 16 }, { payload: 10 })), 'CSUM_FIELDS_SET')
    assert.equal(reason(frame({ csumOffset: 2 }, { payload: 10 })), 'CSUM_FIELDS_SET')
  })

  it('CSUM_PROTO: a partial checksum only for TCP and UDP', () => {
    assert.equal(
      reason(frame({ flags: 1, csumStart: 20, csumOffset: 2 }, { proto: 1, payload: 8 })),
      'CSUM_PROTO',
    )
  })

  it('FRAGMENT: no partial checksum or GSO on a fragment', () => {
    assert.equal(reason(frame(tcpCsum, { payload: 10, frag: 0x2000 })), 'FRAGMENT', 'MF')
    assert.equal(reason(frame(tcpCsum, { payload: 10, frag: 0x0001 })), 'FRAGMENT', 'offset')
  })

  it('L4_SHORT and UDP_LENGTH', () => {
    assert.equal(reason(frame(tcpCsum, { l4hl: 8 })), 'L4_SHORT', 'TCP under 20 bytes')
    const off = frame(tcpCsum, { payload: 4 })
    off[VNET_HDR_BYTES + 20 + 12] = 0x40 // data offset 4 words
    assert.equal(reason(off), 'L4_SHORT')
    const past = frame(tcpCsum, { payload: 4 })
    past[VNET_HDR_BYTES + 20 + 12] = 0xf0 // 60 bytes of TCP header in 24
    assert.equal(reason(past), 'L4_SHORT')
    const udp = frame({ flags: 1, csumStart: 20, csumOffset: 6 }, { proto: 17, payload: 10 })
    udp[VNET_HDR_BYTES + 20 + 5] ^= 1
    assert.equal(reason(udp), 'UDP_LENGTH')
  })

  it('CSUM_START and CSUM_OFFSET: exactly the L4 checksum of the packet’s own protocol', () => {
    assert.equal(
      reason(frame({ ...tcpCsum, csumStart: 24 }, { payload: 10, ipOptions: 4 })),
      'OK',
      'IP options',
    )
    assert.equal(reason(frame({ ...tcpCsum, csumStart: 20 }, { payload: 10, ipOptions: 4 })), 'CSUM_START')
    assert.equal(reason(frame({ ...tcpCsum, csumStart: 0 }, { payload: 10 })), 'CSUM_START')
    assert.equal(
      reason(frame({ ...tcpCsum, csumOffset: 6 }, { payload: 10 })),
      'CSUM_OFFSET',
      'UDP offset on TCP',
    )
    assert.equal(
      reason(frame({ flags: 1, csumStart: 20, csumOffset: 16 }, { proto: 17, payload: 30 })),
      'CSUM_OFFSET',
      'TCP offset on UDP',
    )
    assert.equal(reason(frame({ ...tcpCsum, csumOffset: 0xffff }, { payload: 10 })), 'CSUM_OFFSET')
  })

  it('GSO_FIELDS_SET: no gso_size or hdr_len without GSO', () => {
    assert.equal(reason(frame({ ...tcpCsum, gsoSize: 1000 }, { payload: 10 })), 'GSO_FIELDS_SET')
    assert.equal(reason(frame({ ...tcpCsum, hdrLen: 40 }, { payload: 10 })), 'GSO_FIELDS_SET')
  })

  it('GSO_NO_CSUM and GSO_PROTO', () => {
    const noCsum = frame({ gsoType: 1, hdrLen: 40, gsoSize: 1000 }, { payload: 5000 })
    assert.equal(reason(noCsum), 'GSO_NO_CSUM')
    const udp = frame(
      { flags: 1, gsoType: 1, hdrLen: 28, gsoSize: 1000, csumStart: 20, csumOffset: 6 },
      { proto: 17, payload: 5000 },
    )
    assert.equal(reason(udp), 'GSO_PROTO')
  })

  it('GSO_HDR_LEN: at least the real IP + TCP header length, within the packet', () => {
    for (const hdrLen of [0, 40, 51]) {
      const b = kernelSuper(5000)
      new DataView(b.buffer).setUint16(2, hdrLen, true)
      assert.equal(reason(b), 'GSO_HDR_LEN', `hdr_len ${hdrLen}`)
    }
    const hint = kernelSuper(5000)
    new DataView(hint.buffer).setUint16(2, 52 + 100, true)
    assert.equal(reason(hint), 'OK', 'a longer linear-head hint is fine (rebuilt to 52)')
    new DataView(hint.buffer).setUint16(2, 52 + 5001, true)
    assert.equal(reason(hint), 'GSO_HDR_LEN', 'past the end')
  })

  it('GSO_SIZE: within [536, MTU − 40]; the bound follows the receiver’s MTU', () => {
    assert.equal(reason(kernelSuper(5000, VNET_MIN_GSO_SIZE)), 'OK')
    assert.equal(reason(kernelSuper(5000, VNET_MAX_GSO_SIZE)), 'OK')
    assert.equal(reason(kernelSuper(5000, VNET_MAX_GSO_SIZE + 1)), 'GSO_SIZE')
    assert.equal(reason(kernelSuper(20000, 8960), 9000 - 40), 'OK', 'jumbo MTU receiver')
    assert.equal(reason(kernelSuper(20000, 8961), 9000 - 40), 'GSO_SIZE')
    assert.equal(reason(kernelSuper(5000, 0)), 'GSO_SIZE')
  })

  it('GSO_EMPTY, GSO_TCP_FLAGS', () => {
    assert.equal(reason(kernelSuper(0)), 'GSO_EMPTY')
    for (const f of [0x02, 0x04, 0x12]) {
      const b = frame(
        { flags: 1, gsoType: 1, hdrLen: 40, gsoSize: 1000, csumStart: 20, csumOffset: 16 },
        { payload: 3000, tcpFlags: f },
      )
      assert.equal(reason(b), 'GSO_TCP_FLAGS', `flags ${f}`)
    }
    const fin = frame(
      { flags: 1, gsoType: 1, hdrLen: 40, gsoSize: 1000, csumStart: 20, csumOffset: 16 },
      { payload: 3000, tcpFlags: 0x19 },
    )
    assert.equal(reason(fin), 'OK', 'FIN|PSH|ACK is fine (the last segment carries them)')
  })

  it('GSO_SEGMENTS: the cap holds at the smallest gso_size', () => {
    // the largest possible payload at the smallest gso_size is exactly at the cap
    const b = frame(
      { flags: 1, gsoType: 1, hdrLen: 40, gsoSize: VNET_MIN_GSO_SIZE, csumStart: 20, csumOffset: 16 },
      { payload: 65535 - 40 },
    )
    assert.equal(reason(b), 'OK')
  })

  it('returns shared frozen verdicts (no allocation per frame)', () => {
    const a = check(kernelSuper(5000))
    const b = check(kernelSuper(6000))
    assert.equal(a, b)
    const x = check(kernelSuper(5000, 1))
    assert.equal(x, check(kernelSuper(9000, 2)))
    assert.ok(Object.isFrozen(x))
  })
})

describe('rebuildVnetHeader', () => {
  it('derives hdr_len and the checksum position from the packet and drops DATA_VALID', () => {
    const b = kernelSuper(5000)
    new DataView(b.buffer).setUint16(2, 300, true) // a long linear-head hint
    assert.ok(check(b).ok)
    rebuildVnetHeader(b, 0)
    const dv = new DataView(b.buffer)
    assert.deepEqual(
      [
        b[0],
        b[1],
        dv.getUint16(2, true),
        dv.getUint16(4, true),
        dv.getUint16(6, true),
        dv.getUint16(8, true),
      ],
      [1, 1, 52, 1348, 20, 16],
    )
    const dataValid = frame({ flags: VNET_F_DATA_VALID }, { payload: 10 })
    rebuildVnetHeader(dataValid, 0)
    assert.deepEqual([...dataValid.subarray(0, 10)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    const udp = frame({ flags: 1, csumStart: 24, csumOffset: 6 }, { proto: 17, payload: 9, ipOptions: 4 })
    assert.ok(check(udp).ok)
    rebuildVnetHeader(udp, 0)
    assert.deepEqual([...udp.subarray(0, 10)], [1, 0, 0, 0, 0, 0, 24, 0, 6, 0])
  })

  it('works on a window of a larger slab and leaves the packet bytes alone', () => {
    const f = kernelSuper(3000)
    const slab = new Uint8Array(f.length + 20)
    slab.set(f, 7)
    assert.ok(checkVnetFrame(slab, 7, f.length).ok)
    rebuildVnetHeader(slab, 7)
    assert.deepEqual(slab.subarray(7 + 10, 7 + f.length), f.subarray(10))
  })
})

describe('checkVnetFrame fuzz (seeded)', () => {
  it('never throws; every accepted frame has its checksum field inside the L4 header', () => {
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed3)
    console.log(`vnet fuzz seed ${seed} (FUZZ_SEED=${seed} to reproduce)`)
    const rand = prng(seed)
    const seeds = [
      kernelSuper(6000),
      kernelSuper(2000, 600),
      frame(tcpCsum, { payload: 100 }),
      frame({ flags: 1, csumStart: 20, csumOffset: 6 }, { proto: 17, payload: 40 }),
      frame({}, { proto: 1, payload: 56 }),
    ]
    let accepted = 0
    for (let i = 0; i < 20_000; i++) {
      const b = mutate(rand, seeds[i % seeds.length])
      const v = check(b)
      if (!v.ok) {
        assert.ok(VNET_REASONS.includes(v.reason))
        continue
      }
      accepted++
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
      const ihl = (b[10] & 15) * 4
      assert.equal(dv.getUint16(12), b.length - 10, 'total length = frame')
      if (b[0] & VNET_F_NEEDS_CSUM) {
        const proto = b[10 + 9]
        assert.equal(dv.getUint16(6, true), ihl)
        assert.equal(dv.getUint16(8, true), proto === 6 ? 16 : 6)
        assert.ok(ihl + dv.getUint16(8, true) + 2 <= b.length - 10)
      } else {
        assert.equal(dv.getUint32(6, true), 0)
      }
      if (b[1] === VNET_GSO_TCPV4) {
        const size = dv.getUint16(4, true)
        assert.ok(size >= VNET_MIN_GSO_SIZE && size <= VNET_MAX_GSO_SIZE)
        assert.ok(Math.ceil((b.length - 10) / size) <= VNET_MAX_GSO_SEGMENTS)
      }
    }
    console.log(`vnet fuzz: 20000 frames, ${accepted} accepted`)
  })
})

describe('frame type 3: the test vectors of docs/protocol.md', () => {
  const decode = (hex: string) => {
    const f = Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'))
    const len = (f[1] << 16) | (f[2] << 8) | f[3]
    assert.equal(f[0], 3, 'frame type 3')
    assert.equal(len, f.length - 4, 'frame length')
    return checkVnetFrame(f, 4, len)
  }
  it('the valid vector is accepted', () => {
    const v = decode(
      '0300002d 01 00 0000 0000 1400 0600 4500002300074000401125a10a9000020a900001 9c400035000f1543 6d6573686c616e',
    )
    assert.deepEqual(v, { ok: true })
  })
  it('the refused vector (port rewrite) is refused with CSUM_START', () => {
    const v = decode(
      '0300002d 01 00 0000 0000 1600 0000 4500002300074000401125a10a9000020a900001 9c400016000f0000 6d6573686c616e',
    )
    assert.deepEqual(v, { ok: false, reason: 'CSUM_START' })
  })
})
