import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createConntrack, InvalidConntrackOptionError } from '../src/acl/index.ts'

const TCP = 6
const UDP = 17
const ICMP = 1
const A = 0x0a900001
const B = 0x0a900002

describe('conntrack', () => {
  it('a tracked flow makes its reverse a reply, not itself', () => {
    const ct = createConntrack({ capacity: 16 })
    ct.track(TCP, A, B, 40000, 22, 0)
    assert.equal(ct.entries, 1)
    assert.equal(ct.isReply(TCP, B, A, 22, 40000, 1), true)
    assert.equal(ct.isReply(TCP, A, B, 40000, 22, 1), false)
    assert.equal(ct.isReply(UDP, B, A, 22, 40000, 1), false)
    assert.equal(ct.isReply(TCP, B, A, 22, 40001, 1), false)
    assert.equal(ct.isReply(TCP, B, A + 1, 22, 40000, 1), false)
    ct.track(TCP, A, B, 40000, 22, 2)
    assert.equal(ct.entries, 1, 'tracking again refreshes, does not duplicate')
  })

  it('handles addresses with the top bit set and int32 forms alike', () => {
    const ct = createConntrack({ capacity: 16 })
    const hi = 0xc0a80101
    ct.track(UDP, hi | 0, B, 5353, 53, 0)
    assert.equal(ct.isReply(UDP, B, hi, 53, 5353, 0), true)
  })

  it('expires idle flows per protocol; replies refresh them', () => {
    const ct = createConntrack({ capacity: 16, ttlMs: { tcp: 1000, udp: 100, icmp: 10 } })
    ct.track(TCP, A, B, 1, 2, 0)
    ct.track(UDP, A, B, 1, 2, 0)
    ct.track(ICMP, A, B, 7, 7, 0)
    assert.equal(ct.isReply(ICMP, B, A, 7, 7, 9), true)
    assert.equal(ct.isReply(ICMP, B, A, 7, 7, 19), false, 'icmp ttl 10 since the refresh at 9')
    assert.equal(ct.isReply(UDP, B, A, 2, 1, 99), true)
    assert.equal(ct.isReply(UDP, B, A, 2, 1, 198), true, 'refreshed at 99')
    assert.equal(ct.isReply(UDP, B, A, 2, 1, 298), false)
    assert.equal(ct.entries, 1, 'expired entries met by lookups are removed')
    assert.equal(ct.isReply(TCP, B, A, 2, 1, 999), true)
    assert.equal(ct.has(TCP, A, B, 1, 2, 1998), true)
    assert.equal(ct.has(TCP, A, B, 1, 2, 1999), false)
    assert.equal(ct.sweep(5000), 1)
    assert.equal(ct.entries, 0)
    assert.equal(ct.expired, 3)
  })

  it('sweep removes only expired entries and keeps the rest findable', () => {
    const ct = createConntrack({ capacity: 4096, ttlMs: { tcp: 100, udp: 100, icmp: 100 } })
    for (let i = 0; i < 4000; i++) ct.track(TCP, A, B + (i % 7), i, 80, i % 2 === 0 ? 0 : 50)
    assert.equal(ct.entries, 4000)
    assert.equal(ct.sweep(120), 2000)
    assert.equal(ct.entries, 2000)
    for (let i = 0; i < 4000; i++) {
      assert.equal(ct.isReply(TCP, B + (i % 7), A, 80, i, 120), i % 2 === 1, `flow ${i}`)
    }
  })

  it('when full, evicts the oldest live entry and counts it', () => {
    const ct = createConntrack({ capacity: 4 })
    for (let i = 0; i < 4; i++) ct.track(UDP, A, B, 1000 + i, 53, 10 + i)
    assert.equal(ct.entries, 4)
    ct.track(UDP, A, B, 2000, 53, 20)
    assert.equal(ct.entries, 4)
    assert.equal(ct.evictions, 1)
    assert.equal(ct.isReply(UDP, B, A, 53, 1000, 21), false, 'the oldest went')
    for (const p of [1001, 1002, 1003, 2000]) assert.equal(ct.isReply(UDP, B, A, 53, p, 21), true)
  })

  it('when full, prefers an expired entry over a live one', () => {
    const ct = createConntrack({ capacity: 4, ttlMs: { udp: 100 } })
    ct.track(UDP, A, B, 1, 53, 0)
    for (let i = 0; i < 3; i++) ct.track(UDP, A, B, 10 + i, 53, 90)
    ct.track(UDP, A, B, 99, 53, 150)
    assert.equal(ct.entries, 4)
    assert.equal(ct.evictions, 0)
    assert.equal(ct.expired, 1)
    for (const p of [10, 11, 12, 99]) assert.equal(ct.isReply(UDP, B, A, 53, p, 151), true)
  })

  it('stays consistent under churn far beyond capacity', () => {
    const cap = 1000
    const ct = createConntrack({ capacity: cap, ttlMs: { tcp: 1e9 } })
    const recent: number[] = []
    for (let i = 0; i < 50_000; i++) {
      ct.track(TCP, A + (i % 13), B, i & 0xffff, 443, i)
      recent.push(i)
      if (recent.length > 50) recent.shift()
      assert.ok(ct.entries <= cap)
      if (i % 5000 === 4999) {
        for (const j of recent) assert.equal(ct.isReply(TCP, B, A + (j % 13), 443, j & 0xffff, i), true)
        ct.sweep(i)
      }
    }
    assert.equal(ct.entries, cap)
    assert.equal(ct.evictions, 50_000 - cap)
  })

  it('clear forgets everything; bad options throw a named error', () => {
    const ct = createConntrack()
    assert.equal(ct.capacity, 65536)
    ct.track(TCP, A, B, 1, 2, 0)
    ct.clear()
    assert.equal(ct.entries, 0)
    assert.equal(ct.isReply(TCP, B, A, 2, 1, 0), false)
    assert.throws(() => createConntrack({ capacity: 0 }), InvalidConntrackOptionError)
    assert.throws(() => createConntrack({ ttlMs: { tcp: Number.NaN } }), /ttlMs.tcp/)
  })
})
