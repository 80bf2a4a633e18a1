/** The pump's LPM route table: /32s, routed prefixes and 0.0.0.0/0. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseIpv4 } from '../src/acl/index.ts'
import { RouteTable } from '../src/route-table.ts'

const ip = (s: string) => parseIpv4(s) as number

describe('RouteTable', () => {
  it('longest prefix wins: /32 over /24 over /16 over 0/0; no default route → undefined', () => {
    const t = new RouteTable<string>()
    t.set(ip('192.168.1.0'), 24, 'lan')
    t.set(ip('192.168.0.0'), 16, 'wide')
    t.set(ip('192.168.1.9'), 32, 'host')
    assert.equal(t.lookup(ip('8.8.8.8')), undefined)
    t.set(0, 0, 'exit')
    assert.equal(t.lookup(ip('192.168.1.9')), 'host')
    assert.equal(t.lookup(ip('192.168.1.10')), 'lan')
    assert.equal(t.lookup(ip('192.168.2.1')), 'wide')
    assert.equal(t.lookup(ip('8.8.8.8')), 'exit')
    assert.equal(t.lookup(ip('255.255.255.255')), 'exit')
  })

  it('set masks host bits; get is exact; delete falls back to the next shorter prefix', () => {
    const t = new RouteTable<string>()
    t.set(ip('10.1.2.3'), 8, 'ten')
    assert.equal(t.get(ip('10.0.0.0'), 8), 'ten')
    assert.equal(t.get(ip('10.0.0.0'), 16), undefined)
    t.set(ip('10.1.0.0'), 16, 'sub')
    assert.equal(t.lookup(ip('10.1.9.9')), 'sub')
    assert.equal(t.delete(ip('10.1.0.0'), 16), true)
    assert.equal(t.lookup(ip('10.1.9.9')), 'ten')
    assert.equal(t.delete(ip('10.1.0.0'), 16), false)
    assert.deepEqual(
      [...t.entries()].map((e) => [e.base, e.prefix, e.value]),
      [[ip('10.0.0.0'), 8, 'ten']],
    )
  })

  it('matches a brute-force LPM on random tables (seeded)', () => {
    let seed = 0x9e3779b9
    console.log(`route-table fuzz seed ${seed}`)
    const rnd = () => {
      seed = (seed + 0x6d2b79f5) >>> 0
      let x = seed
      x = Math.imul(x ^ (x >>> 15), x | 1)
      x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
      return (x ^ (x >>> 14)) >>> 0
    }
    const t = new RouteTable<number>()
    const list: Array<[number, number, number]> = []
    for (let i = 0; i < 300; i++) {
      const prefix = [0, 8, 16, 20, 24, 28, 32][rnd() % 7]
      const mask = RouteTable.mask(prefix)
      const base = (rnd() & mask & 0x0fffffff) >>> 0 // keep them dense enough to overlap
      t.set(base, prefix, i)
      const at = list.findIndex((e) => e[0] === base && e[1] === prefix)
      if (at >= 0) list.splice(at, 1)
      list.push([base, prefix, i])
    }
    for (let k = 0; k < 5000; k++) {
      const a =
        k % 2 === 0 ? (rnd() & 0x0fffffff) >>> 0 : (list[rnd() % list.length][0] + (rnd() & 0xff)) >>> 0
      let best: [number, number, number] | undefined
      for (const e of list) {
        if ((a & RouteTable.mask(e[1])) >>> 0 === e[0] && (best == null || e[1] > best[1])) best = e
      }
      assert.equal(t.lookup(a), best?.[2], `lookup of ${a}`)
    }
  })
})
