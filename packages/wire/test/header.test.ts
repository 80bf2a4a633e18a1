import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { echoPacket, ipPacket, tcpPacket, udpPacket } from '@meshlan/testkit'
import {
  checkIpv4,
  HEADER_BAD_ICMP_ERROR,
  HEADER_OK,
  HEADER_REASONS,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  IPV4_BAD_IHL,
  IPV4_SHORT,
  icmpType,
  ipv4Dst,
  ipv4Proto,
  ipv4Src,
  l4DstPort,
  l4SrcPort,
  PacketHeader,
} from '../src/index.ts'

const A = 0x0a900001
const B = 0x0a900002

const ip = ipPacket
const udp = udpPacket
const tcp = tcpPacket
const echo = echoPacket
/** An ICMP error from `src` to `dst` quoting the first `quote` bytes of `about` (RFC 792: header + 8). */
function icmpError(src: number, dst: number, type: number, about: Uint8Array, quote = 28): Uint8Array {
  return ip(1, src, dst, [type, 3, 0, 0, 0, 0, 0, 0, ...about.subarray(0, quote)])
}

function parsed(b: Uint8Array): PacketHeader {
  const h = new PacketHeader()
  const r = h.parse(b, 0, b.length)
  assert.equal(r, HEADER_OK, HEADER_REASONS[r])
  return h
}

describe('PacketHeader', () => {
  it('TCP and UDP: addresses, protocol, ports', () => {
    const h = parsed(tcp(A, B, 40000, 22))
    assert.deepEqual([h.src, h.dst, h.proto, h.sport, h.dport, h.icmpType], [A, B, 6, 40000, 22, -1])
    assert.equal(h.parse(udp(B, A, 53, 5353), 0, 28), HEADER_OK, 'the same instance is refilled')
    assert.deepEqual([h.src, h.dst, h.proto, h.sport, h.dport, h.icmpError], [B, A, 17, 53, 5353, false])
  })

  it('ICMP echo: the identifier is both ports, so an echo flow is keyed like any other', () => {
    const h = parsed(echo(A, B, ICMP_ECHO_REQUEST, 0x1234))
    assert.deepEqual(
      [h.proto, h.icmpType, h.icmpCode, h.sport, h.dport, h.icmpError],
      [1, 8, 0, 0x1234, 0x1234, false],
    )
  })

  it('ICMP errors: the embedded packet is parsed into inner fields', () => {
    const h = parsed(icmpError(B, A, ICMP_DEST_UNREACHABLE, udp(A, B, 5000, 53)))
    assert.equal(h.icmpError, true)
    assert.deepEqual([h.src, h.dst, h.icmpType, h.icmpCode], [B, A, 3, 3])
    assert.deepEqual([h.innerProto, h.innerSrc, h.innerDst, h.innerSport, h.innerDport], [17, A, B, 5000, 53])
    const t = parsed(icmpError(B, A, ICMP_TIME_EXCEEDED, tcp(A, B, 41000, 443)))
    assert.deepEqual([t.innerProto, t.innerSport, t.innerDport], [6, 41000, 443])
    const e = parsed(icmpError(B, A, ICMP_DEST_UNREACHABLE, echo(A, B, ICMP_ECHO_REQUEST, 77)))
    assert.deepEqual([e.innerProto, e.innerSport, e.innerDport], [1, 77, 77])
  })

  it('an ICMP error without the whole embedded header and 8 L4 bytes is bad, with a reason', () => {
    const h = new PacketHeader()
    for (const quote of [0, 8, 20, 27]) {
      const b = icmpError(B, A, ICMP_DEST_UNREACHABLE, udp(A, B, 5000, 53), quote)
      assert.equal(h.parse(b, 0, b.length), HEADER_BAD_ICMP_ERROR, `quote ${quote}`)
    }
    assert.equal(HEADER_REASONS[HEADER_BAD_ICMP_ERROR], 'BAD_ICMP_ERROR')
    const notV4 = icmpError(B, A, ICMP_DEST_UNREACHABLE, udp(A, B, 5000, 53))
    notV4[28] = 0x65
    assert.equal(h.parse(notV4, 0, notV4.length), HEADER_BAD_ICMP_ERROR)
  })

  it('bad IPv4 gives checkIpv4 reasons; non-first fragments have no ports', () => {
    const h = new PacketHeader()
    assert.equal(h.parse(new Uint8Array(10), 0, 10), IPV4_SHORT)
    const b = tcp(A, B, 1, 2)
    b[0] = 0x44
    assert.equal(h.parse(b, 0, b.length), IPV4_BAD_IHL)
    const f = tcp(A, B, 1, 2)
    f[7] = 1 // fragment offset 8 bytes
    const g = parsed(f)
    assert.deepEqual([g.fragment, g.sport, g.dport], [true, 0, 0])
  })

  it('fuzz: never throws, agrees with checkIpv4 and the accessors', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
    console.log(`# header fuzz seed ${seed} (FUZZ_SEED=${seed} reproduces)`)
    let s = seed >>> 0 || 1
    const rnd = () => {
      s ^= s << 13
      s ^= s >>> 17
      s ^= s << 5
      return (s >>> 0) / 2 ** 32
    }
    const seeds = [
      tcp(A, B, 40000, 22),
      udp(A, B, 5000, 53),
      echo(A, B, 8, 9),
      icmpError(B, A, 3, udp(A, B, 5000, 53)),
      icmpError(B, A, 11, tcp(A, B, 1, 2)),
    ]
    const h = new PacketHeader()
    for (let n = 0; n < 200_000; n++) {
      const base = seeds[n % seeds.length]
      const b = base.slice(0, 1 + Math.floor(rnd() * base.length))
      for (let k = Math.floor(rnd() * 4); k > 0; k--)
        b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
      const len = Math.floor(rnd() * (b.length + 1))
      const r = h.parse(b, 0, len)
      const c = checkIpv4(b, 0, len)
      if (c !== 0) {
        assert.equal(r, c)
        continue
      }
      if (r === HEADER_BAD_ICMP_ERROR) {
        assert.equal(h.icmpError, true)
        continue
      }
      assert.equal(r, HEADER_OK)
      assert.equal(h.src, ipv4Src(b, 0))
      assert.equal(h.dst, ipv4Dst(b, 0))
      assert.equal(h.proto, ipv4Proto(b, 0))
      if (h.proto === 6 || h.proto === 17) {
        assert.equal(h.sport, l4SrcPort(b, 0))
        assert.equal(h.dport, l4DstPort(b, 0))
      }
      if (h.proto === 1) assert.equal(h.icmpType, icmpType(b, 0))
    }
  })

  it('parses a million packets without allocating', () => {
    const packets = [tcp(A, B, 40000, 22), icmpError(B, A, 3, udp(A, B, 5000, 53)), echo(A, B, 8, 1)]
    const h = new PacketHeader()
    let sink = 0
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 1_000_000; i++) {
      const p = packets[i % 3]
      sink += h.parse(p, 0, p.length) + h.dport + h.innerDport
    }
    const grown = process.memoryUsage().heapUsed - before
    assert.ok(sink > 0)
    assert.ok(grown < 1024 * 1024, `heap grew ${grown} bytes`)
  })
})
