/**
 * The AEAD addon (native/aead.c) against what a remote peer controls: seeded fuzz of open() with
 * sealed, changed, cut and random messages (bench/fuzz-aead.ts; ≥ 10⁶ inputs outside CI). Its use by
 * Noise, byte-equality with node:crypto and argument checks: packages/mesh/test/noise-crypto.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fuzzAead } from '../bench/fuzz-aead.ts'

describe('aead open under fuzz', () => {
  it('fuzz (seeded, 20,000 messages): opens exactly the sealed ones, writes only out', () => {
    const seed = Number(process.env.FUZZ_SEED ?? 0xae4d)
    console.log(`fuzz-aead seed ${seed} (FUZZ_SEED=${seed} to reproduce)`)
    const r = fuzzAead(20_000, seed)
    assert.deepEqual(r.findings, [])
    assert.ok(r.opened > 2000 && r.refused > 10_000, `a mix: opened ${r.opened}, refused ${r.refused}`)
  })
})
