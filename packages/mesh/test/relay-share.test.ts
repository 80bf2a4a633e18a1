/** The arithmetic of a member relay's shares and quotas (reachability/relay-share.ts). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  RELAY_BUSY_BACKOFF,
  RELAY_BUSY_CPU,
  RELAY_IDLE_GROWTH,
  RELAY_SHARE_FLOOR_BYTES,
} from '../src/reachability/constants.ts'
import {
  charge,
  newShareAccount,
  nextBudget,
  refill,
  useQuota,
  waterFill,
} from '../src/reachability/relay-share.ts'

const INF = Number.POSITIVE_INFINITY

describe('relay shares', () => {
  it('water-filling: what a light member leaves goes to the others; greedy ones split the rest', () => {
    assert.deepEqual(waterFill([INF, INF], 100), [50, 50])
    assert.deepEqual(waterFill([10, INF, INF], 100), [10, 45, 45])
    assert.deepEqual(waterFill([10, 20], 100), [10, 20])
    assert.deepEqual(waterFill([INF], INF), [INF])
  })

  it('budget: fixed when a rate is set; unlimited on an idle relay; backs off while busy, then recovers', () => {
    assert.equal(nextBudget(INF, 5e6, 1, 400_000), 400_000)
    assert.equal(nextBudget(INF, 5e6, 0.2, 0), INF)
    const busy = nextBudget(INF, 1e6, RELAY_BUSY_CPU + 0.05, 0)
    assert.equal(busy, 1e6 * RELAY_BUSY_BACKOFF)
    // idle again: grows, and is lifted once members no longer come near it
    let b = busy
    for (let i = 0; i < 20 && b !== INF; i++) b = nextBudget(b, 1e5, 0.1, 0)
    assert.equal(b, INF)
  })

  it('budget: a busy relay with no tunnel traffic of its own holds nobody back, it keeps growing', () => {
    const busy = RELAY_BUSY_CPU + 0.05
    // backing off regardless: each busy tick gives members less than they used
    assert.ok(nextBudget(INF, 4e6, busy, 0, true) < 4e6)
    // nothing of its own to protect: what members used, grown, so a lone member is never paused
    // by its own rate and several still get fair shares of a finite budget
    const b = nextBudget(INF, 4e6, busy, 0, false)
    assert.equal(b, 4e6 * RELAY_IDLE_GROWTH)
    assert.ok(nextBudget(b, 5e6, busy, 0, false) > 5e6)
    // and a fixed rate stays fixed
    assert.equal(nextBudget(INF, 4e6, busy, 400_000, false), 400_000)
  })

  it('a member out of tokens is paused; its share refills each tick; a burst is paid back', () => {
    const greedy = newShareAccount()
    const light = newShareAccount()
    const budget = 1_000_000
    refill([greedy, light], budget)
    // nobody has asked for more yet: each starts at the floor and doubles while it uses it all
    assert.equal(greedy.share, RELAY_SHARE_FLOOR_BYTES)
    // greedy spends its share and more (a window released on resume)
    assert.equal(charge(greedy, greedy.tokens - 1), false)
    assert.equal(charge(greedy, 300_000), true, 'out of tokens: pause')
    charge(light, 1000)
    const shares = refill([greedy, light], budget)
    // greedy was held back: it wants more than anyone, light about twice what it used — and gets
    // the floor on top, not out of greedy's share
    assert.ok(shares[0] > shares[1], `greedy ${shares[0]} light ${shares[1]}`)
    assert.equal(shares[1], 2000)
    assert.equal(light.share, RELAY_SHARE_FLOOR_BYTES)
    assert.equal(shares[0] + shares[1], budget)
    assert.equal(greedy.share, budget - 2000)
    // the debt carried over: fewer tokens than a whole share
    assert.ok(greedy.tokens < shares[0], `tokens ${greedy.tokens} after a 300 KB overdraft`)
  })

  it('quota: counted per period, and a new period starts from zero', () => {
    const q = { periodStart: 0, used: 0 }
    assert.equal(useQuota(q, 600, 10, 1000), 600)
    assert.equal(useQuota(q, 600, 20, 1000), 1200)
    assert.equal(useQuota(q, 100, 1000, 1000), 100, 'a new period')
  })
})
