import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { prng, runSeed } from '../src/index.ts'

describe('prng', () => {
  it('replays the same sequence from the same seed, and another from another', () => {
    const a = prng(42)
    const b = prng(42)
    const c = prng(43)
    const sa = Array.from({ length: 100 }, a)
    assert.deepEqual(sa, Array.from({ length: 100 }, b))
    assert.notDeepEqual(sa, Array.from({ length: 100 }, c))
    assert.ok(sa.every((x) => x >= 0 && x < 1))
  })
  it('spreads over [0, 1): every tenth of the range is hit about equally', () => {
    const r = prng(7)
    const bins = new Array(10).fill(0)
    for (let i = 0; i < 100_000; i++) bins[Math.floor(r() * 10)]++
    for (const n of bins) assert.ok(n > 9_000 && n < 11_000, `bin count ${n}`)
  })
  it('takes the seed from the environment to replay, and refuses garbage', () => {
    process.env.TESTKIT_SEED = '1234'
    assert.equal(runSeed('TESTKIT_SEED'), 1234)
    process.env.TESTKIT_SEED = 'x'
    assert.throws(() => runSeed('TESTKIT_SEED'), /not a whole number/)
    delete process.env.TESTKIT_SEED
  })
})
