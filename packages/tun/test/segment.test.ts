import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { segment, VNET_HDR_LEN } from '../src/index.ts'
import {
  bytes,
  concat,
  ipv4Header,
  pseudo4,
  tcp4ChecksumsOk,
  tcpSuperPacket4,
  vnetHeader,
} from './fixtures/packets.ts'

const FIN = 0x01
const PSH = 0x08
const ACK = 0x10
const CWR = 0x80

describe('segment (no root needed)', () => {
  it('splits a TCP/IPv4 super-packet into MSS-sized packets with correct checksums', () => {
    const payload = bytes(3500, 7)
    const sp = tcpSuperPacket4({
      src: '10.1.0.1',
      dst: '10.1.0.2',
      sport: 40000,
      dport: 5201,
      seq: 0xfffff000, // wraps during the split
      flags: ACK | PSH | FIN | CWR,
      mss: 1000,
      payload,
    })
    const out = segment(sp, { headroom: 6 })
    assert.ok(out)
    assert.equal(out.count, 4)
    const got: Uint8Array[] = []
    let expectedOffset = 6
    for (let i = 0; i < out.count; i++) {
      assert.equal(out.offsets[i], expectedOffset, 'headroom before every packet')
      const pkt = out.slab.subarray(out.offsets[i], out.offsets[i] + out.lengths[i])
      expectedOffset += out.lengths[i] + 6
      const dv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength)
      assert.equal(dv.getUint16(2), pkt.length, 'IP total length')
      assert.equal(dv.getUint16(4), 100 + i, 'IP id increments')
      assert.ok(tcp4ChecksumsOk(pkt), `checksums of segment ${i}`)
      assert.equal(dv.getUint32(24), (0xfffff000 + i * 1000) >>> 0, 'sequence number')
      const flags = pkt[33]
      assert.equal(Boolean(flags & CWR), i === 0, 'CWR only first')
      assert.equal(Boolean(flags & (FIN | PSH)), i === out.count - 1, 'FIN/PSH only last')
      assert.ok(flags & ACK)
      got.push(pkt.subarray(40))
    }
    assert.equal(out.slab.length, expectedOffset - 6)
    assert.deepEqual(Buffer.from(concat(...got)), Buffer.from(payload))
  })

  it('caps segments at the mtu when it is smaller than gso_size', () => {
    const sp = tcpSuperPacket4({
      src: '10.1.0.1',
      dst: '10.1.0.2',
      sport: 1,
      dport: 2,
      seq: 1,
      flags: ACK,
      mss: 1400,
      payload: bytes(3000),
    })
    const out = segment(sp, { mtu: 576 })
    assert.ok(out)
    for (let i = 0; i < out.count; i++) {
      assert.ok(out.lengths[i] <= 576)
      assert.ok(tcp4ChecksumsOk(out.slab.subarray(out.offsets[i], out.offsets[i] + out.lengths[i])))
    }
    assert.equal(out.count, Math.ceil(3000 / 536))
  })

  it('completes a NEEDS_CSUM packet and strips the vnet header', () => {
    const data = bytes(333, 3)
    const tcp = new Uint8Array(20 + data.length)
    const v = new DataView(tcp.buffer)
    v.setUint16(0, 1234)
    v.setUint16(2, 80)
    tcp[12] = 5 << 4
    tcp[13] = ACK
    tcp.set(data, 20)
    const ip = ipv4Header('10.2.0.1', '10.2.0.2', 6, tcp.length)
    // The partial checksum field holds the folded pseudo-header sum (not complemented).
    const pseudoSum = ~inet(pseudo4(ip.subarray(12, 16), ip.subarray(16, 20), 6, tcp.length)) & 0xffff
    v.setUint16(16, pseudoSum)
    const pkt = concat(vnetHeader({ flags: 1, csumStart: 20, csumOffset: 16 }), ip, tcp)
    const out = segment(pkt)
    assert.ok(out)
    assert.equal(out.count, 1)
    assert.equal(out.lengths[0], pkt.length - VNET_HDR_LEN)
    assert.ok(tcp4ChecksumsOk(out.slab.subarray(out.offsets[0], out.offsets[0] + out.lengths[0])))
  })

  it('returns null for packets it cannot parse', () => {
    assert.equal(segment(new Uint8Array(4)), null)
    const bad = concat(vnetHeader({ gsoType: 1, gsoSize: 100 }), new Uint8Array(30))
    assert.equal(segment(bad), null)
  })
})

function inet(...parts: Uint8Array[]): number {
  let sum = 0
  for (const p of parts) for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i] << 8) | p[i + 1]
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}
