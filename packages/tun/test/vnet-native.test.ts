/**
 * The native type-3 path without a device (no root needed): the addon's own validation refuses
 * the attacks of issue 8 §1 with a named reason, caps segments at the receiver's MTU, and a seeded
 * fuzz run checks its output invariants (the full run is bench/fuzz-vnet.ts).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fuzzVnet } from '../bench/fuzz-vnet.ts'
import { segment } from '../src/index.ts'
import { native } from '../src/native.ts'
import { bytes, concat, ipv4Header, tcpSuperPacket4, udp4, vnetHeader } from './fixtures/packets.ts'

/** The addon's verdict: a reason name, or the number of packets the frame becomes. */
function verdict(frame: Uint8Array, mtu = 0): string | number {
  const out = new Uint8Array(256 * 1024)
  const offs = new Uint32Array(256)
  const lens = new Uint32Array(256)
  const r = native().segmentInto(frame, out, offs, lens, mtu, 0)
  return r < 0 ? native().vnetReasons[-r] : r
}

const superPacket = (mss: number, payload: number) =>
  tcpSuperPacket4({
    src: '10.1.0.1',
    dst: '10.1.0.2',
    sport: 1,
    dport: 22,
    seq: 1,
    flags: 0x10,
    mss,
    payload: bytes(payload),
  })

describe('native type-3 validation (no root needed)', () => {
  it('attack: refuses a checksum pointed at the destination port or address', () => {
    const pkt = udp4('10.1.0.1', '10.1.0.2', 5555, 22, bytes(16))
    assert.equal(verdict(concat(vnetHeader({ flags: 1, csumStart: 22, csumOffset: 0 }), pkt)), 'CSUM_START')
    assert.equal(verdict(concat(vnetHeader({ flags: 1, csumStart: 20, csumOffset: 2 }), pkt)), 'CSUM_OFFSET')
    assert.equal(verdict(concat(vnetHeader({ flags: 1, csumStart: 16, csumOffset: 0 }), pkt)), 'CSUM_START')
    assert.equal(segment(concat(vnetHeader({ flags: 1, csumStart: 22, csumOffset: 0 }), pkt)), null)
    assert.equal(
      verdict(concat(vnetHeader({ flags: 1, csumStart: 20, csumOffset: 6 }), pkt)),
      1,
      'the honest one',
    )
  })

  it('attack: refuses gso_size=1 (was 65,495 packets from one frame)', () => {
    assert.equal(verdict(superPacket(1, 65535 - 40)), 'GSO_SIZE')
    assert.equal(segment(superPacket(1, 65535 - 40)), null)
    assert.equal(
      verdict(superPacket(536, 65535 - 40)),
      123,
      'the smallest legal gso_size stays within the cap',
    )
  })

  it('caps segments when the receiver’s MTU would split finer than the cap allows', () => {
    assert.equal(verdict(superPacket(1360, 60000), 1400), Math.ceil(60000 / 1360))
    // MTU 500 → 460-byte segments → 131 packets > 123: refused rather than amplified
    assert.equal(verdict(superPacket(1360, 60000), 500), 'GSO_SEGMENTS')
    assert.equal(verdict(superPacket(1360, 60000), 40), 'GSO_SEGMENTS', 'an MTU below the headers')
  })

  it('refuses IPv6, GSO_TCPV6, ECN and unknown flags', () => {
    const v6 = superPacket(1000, 3000)
    v6[10] = 0x60
    assert.equal(verdict(v6), 'NOT_IPV4')
    for (const [gsoType, want] of [
      [4, 'BAD_GSO_TYPE'],
      [0x81, 'GSO_ECN'],
    ] as const) {
      const b = superPacket(1000, 3000)
      b[1] = gsoType
      assert.equal(verdict(b), want)
    }
    const f = concat(vnetHeader({ flags: 4 }), ipv4Header('10.1.0.1', '10.1.0.2', 1, 0))
    assert.equal(verdict(f), 'BAD_FLAGS')
  })

  it('fuzz (seeded, 20,000 frames): no write outside the output, ports and addresses preserved', () => {
    const seed = Number(process.env.FUZZ_SEED ?? 0x7e57)
    console.log(`fuzz-vnet seed ${seed} (FUZZ_SEED=${seed} to reproduce)`)
    const r = fuzzVnet({ n: 20_000, seed })
    assert.deepEqual(r.findings, [])
    assert.ok(r.accepted > 1000 && r.accepted < r.n, `a mix of accepted (${r.accepted}) and refused frames`)
  })
})
