import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PacketHeader } from '@meshlan/wire'
import { createConntrack, InvalidConntrackOptionError } from '../src/acl/index.ts'

const TCP = 6
const UDP = 17
const ICMP = 1
const A = 0x0a900001
const B = 0x0a900002
/** The peer the flows belong to (its overlay address): the filter passes its peer's. */
const O = B

/** A header holding a flow's 5-tuple (conntrack reads nothing else). */
function flow(proto: number, src: number, dst: number, sport: number, dport: number): PacketHeader {
  const h = new PacketHeader()
  h.proto = proto
  h.src = src >>> 0
  h.dst = dst >>> 0
  h.sport = sport
  h.dport = dport
  return h
}

describe('conntrack', () => {
  it('a tracked flow makes its reverse a reply, not itself', () => {
    const ct = createConntrack({ capacity: 16 })
    ct.track(O, flow(TCP, A, B, 40000, 22), 0)
    assert.equal(ct.entries, 1)
    assert.equal(ct.isReply(O, flow(TCP, B, A, 22, 40000), 1), true)
    assert.equal(ct.isReply(O, flow(TCP, A, B, 40000, 22), 1), false)
    assert.equal(ct.isReply(O, flow(UDP, B, A, 22, 40000), 1), false)
    assert.equal(ct.isReply(O, flow(TCP, B, A, 22, 40001), 1), false)
    assert.equal(ct.isReply(O, flow(TCP, B, A + 1, 22, 40000), 1), false)
    ct.track(O, flow(TCP, A, B, 40000, 22), 2)
    assert.equal(ct.entries, 1, 'tracking again refreshes, does not duplicate')
  })

  it('handles addresses with the top bit set and int32 forms alike', () => {
    const ct = createConntrack({ capacity: 16 })
    const hi = 0xc0a80101
    ct.track(O, flow(UDP, hi | 0, B, 5353, 53), 0)
    assert.equal(ct.isReply(O, flow(UDP, B, hi, 53, 5353), 0), true)
  })

  it('expires idle flows per protocol; replies refresh them', () => {
    const ct = createConntrack({ capacity: 16, ttlMs: { tcp: 1000, udp: 100, icmp: 10 } })
    ct.track(O, flow(TCP, A, B, 1, 2), 0)
    ct.track(O, flow(UDP, A, B, 1, 2), 0)
    ct.track(O, flow(ICMP, A, B, 7, 7), 0)
    assert.equal(ct.isReply(O, flow(ICMP, B, A, 7, 7), 9), true)
    assert.equal(ct.isReply(O, flow(ICMP, B, A, 7, 7), 19), false, 'icmp ttl 10 since the refresh at 9')
    assert.equal(ct.isReply(O, flow(UDP, B, A, 2, 1), 99), true)
    assert.equal(ct.isReply(O, flow(UDP, B, A, 2, 1), 198), true, 'refreshed at 99')
    assert.equal(ct.isReply(O, flow(UDP, B, A, 2, 1), 298), false)
    assert.equal(ct.entries, 1, 'expired entries met by lookups are removed')
    assert.equal(ct.isReply(O, flow(TCP, B, A, 2, 1), 999), true)
    assert.equal(ct.has(O, flow(TCP, A, B, 1, 2), 1998), true)
    assert.equal(ct.has(O, flow(TCP, A, B, 1, 2), 1999), false)
    assert.equal(ct.sweep(5000), 1)
    assert.equal(ct.entries, 0)
    assert.equal(ct.expired, 3)
  })

  it('sweep removes only expired entries and keeps the rest findable', () => {
    const ct = createConntrack({ capacity: 4096, ttlMs: { tcp: 100, udp: 100, icmp: 100 } })
    for (let i = 0; i < 4000; i++) ct.track(O, flow(TCP, A, B + (i % 7), i, 80), i % 2 === 0 ? 0 : 50)
    assert.equal(ct.entries, 4000)
    assert.equal(ct.sweep(120), 2000)
    assert.equal(ct.entries, 2000)
    for (let i = 0; i < 4000; i++) {
      assert.equal(ct.isReply(O, flow(TCP, B + (i % 7), A, 80, i), 120), i % 2 === 1, `flow ${i}`)
    }
  })

  it('when full, evicts the oldest live entry and counts it', () => {
    const ct = createConntrack({ capacity: 4 })
    for (let i = 0; i < 4; i++) ct.track(O, flow(UDP, A, B, 1000 + i, 53), 10 + i)
    assert.equal(ct.entries, 4)
    ct.track(O, flow(UDP, A, B, 2000, 53), 20)
    assert.equal(ct.entries, 4)
    assert.equal(ct.evictions, 1)
    assert.equal(ct.isReply(O, flow(UDP, B, A, 53, 1000), 21), false, 'the oldest went')
    for (const p of [1001, 1002, 1003, 2000]) assert.equal(ct.isReply(O, flow(UDP, B, A, 53, p), 21), true)
  })

  it('when full, prefers an expired entry over a live one', () => {
    const ct = createConntrack({ capacity: 4, ttlMs: { udp: 100 } })
    ct.track(O, flow(UDP, A, B, 1, 53), 0)
    for (let i = 0; i < 3; i++) ct.track(O, flow(UDP, A, B, 10 + i, 53), 90)
    ct.track(O, flow(UDP, A, B, 99, 53), 150)
    assert.equal(ct.entries, 4)
    assert.equal(ct.evictions, 0)
    assert.equal(ct.expired, 1)
    for (const p of [10, 11, 12, 99]) assert.equal(ct.isReply(O, flow(UDP, B, A, 53, p), 151), true)
  })

  it('stays consistent under churn far beyond capacity', () => {
    const cap = 1000
    const ct = createConntrack({ capacity: cap, ttlMs: { tcp: 1e9 } })
    const recent: number[] = []
    for (let i = 0; i < 50_000; i++) {
      ct.track(O, flow(TCP, A + (i % 13), B, i & 0xffff, 443), i)
      recent.push(i)
      if (recent.length > 50) recent.shift()
      assert.ok(ct.entries <= cap)
      if (i % 5000 === 4999) {
        for (const j of recent)
          assert.equal(ct.isReply(O, flow(TCP, B, A + (j % 13), 443, j & 0xffff), i), true)
        ct.sweep(i)
      }
    }
    assert.equal(ct.entries, cap)
    assert.equal(ct.evictions, 50_000 - cap)
  })

  it('clear forgets everything; bad options throw a named error', () => {
    const ct = createConntrack()
    assert.equal(ct.capacity, 65536)
    ct.track(O, flow(TCP, A, B, 1, 2), 0)
    ct.clear()
    assert.equal(ct.entries, 0)
    assert.equal(ct.isReply(O, flow(TCP, B, A, 2, 1), 0), false)
    assert.throws(() => createConntrack({ capacity: 0 }), InvalidConntrackOptionError)
    assert.throws(() => createConntrack({ ttlMs: { tcp: Number.NaN } }), /ttlMs.tcp/)
  })

  it('each peer holds its own bounded share: a flood evicts only the flooder', () => {
    const C = 0x0a900003
    const ct = createConntrack({ capacity: 64, perPeerCapacity: 8 })
    ct.track(C, flow(TCP, C, A, 40000, 22), 0)
    for (let p = 0; p < 1000; p++) ct.track(B, flow(UDP, B, A, p, 53), 1 + p)
    assert.equal(ct.entriesOf(B), 8, 'the flooder keeps its cap, no more')
    assert.equal(ct.entriesOf(C), 1)
    assert.equal(ct.peerCapEvictions, 1000 - 8)
    assert.equal(ct.isReply(C, flow(TCP, A, C, 22, 40000), 2000), true, "the other peer's flow survived")
    for (let p = 992; p < 1000; p++)
      assert.equal(ct.has(B, flow(UDP, B, A, p, 53), 2000), true, `newest ${p}`)
    assert.equal(ct.has(B, flow(UDP, B, A, 991, 53), 2000), false)
  })

  it("a peer's packets never match another peer's flows", () => {
    const C = 0x0a900003
    const ct = createConntrack({ capacity: 16 })
    ct.track(C, flow(TCP, A, C, 50000, 80), 0)
    assert.equal(ct.isReply(C, flow(TCP, C, A, 80, 50000), 1), true)
    assert.equal(ct.isReply(B, flow(TCP, C, A, 80, 50000), 1), false, 'same tuple, other peer')
    assert.equal(ct.has(B, flow(TCP, A, C, 50000, 80), 1), false)
  })

  it('a full table takes from the peer holding the most, never from a small share', () => {
    const ct = createConntrack({ capacity: 32, perPeerCapacity: 32 })
    const peers = [0x0a900010, 0x0a900011, 0x0a900012]
    ct.track(peers[0], flow(TCP, peers[0], A, 1, 22), 0)
    for (let i = 0; i < 31; i++) ct.track(peers[1], flow(UDP, peers[1], A, i, 53), 1 + i)
    assert.equal(ct.entries, 32)
    for (let i = 0; i < 100; i++) ct.track(peers[2], flow(UDP, peers[2], A, i, 53), 100 + i)
    assert.equal(ct.entries, 32)
    assert.equal(ct.entriesOf(peers[0]), 1, 'the one-flow peer kept its flow')
    assert.equal(ct.has(peers[0], flow(TCP, peers[0], A, 1, 22), 300), true)
    assert.ok(ct.entriesOf(peers[1]) >= 15 && ct.entriesOf(peers[2]) >= 15, 'the two heavy peers end up even')
  })

  it('relates() matches the flow an ICMP error embeds, in either direction, for its peer only', () => {
    const ct = createConntrack({ capacity: 16, ttlMs: { udp: 100 } })
    ct.track(B, flow(UDP, A, B, 5000, 53), 0)
    const err = new PacketHeader()
    err.innerProto = UDP
    err.innerSrc = A
    err.innerDst = B
    err.innerSport = 5000
    err.innerDport = 53
    assert.equal(ct.relates(B, err, 50), true)
    assert.equal(ct.relates(A, err, 50), false, 'another peer')
    ;[err.innerSrc, err.innerDst, err.innerSport, err.innerDport] = [B, A, 53, 5000]
    assert.equal(ct.relates(B, err, 50), true, 'the reverse direction')
    err.innerDport = 5001
    assert.equal(ct.relates(B, err, 50), false)
    err.innerDport = 5000
    assert.equal(ct.relates(B, err, 150), false, 'expired')
  })

  it('every share is freed when its flows go, so peers can come and go forever', () => {
    const ct = createConntrack({ capacity: 8, perPeerCapacity: 2, ttlMs: { udp: 10 } })
    for (let round = 0; round < 2000; round++) {
      const peer = 0x0b000000 + round
      ct.track(peer, flow(UDP, peer, A, 1, 53), round * 20)
      ct.track(peer, flow(UDP, peer, A, 2, 53), round * 20)
      assert.equal(ct.entriesOf(peer), 2)
      assert.ok(ct.entries <= 8)
    }
    const held = ct.entries
    assert.equal(ct.sweep(1e9), held)
    assert.equal(ct.entries, 0)
    assert.equal(ct.entriesOf(0x0b000000 + 1999), 0)
  })
})
