/**
 * The buffer collection (buffer-collect.ts): an incremental major collection when the array
 * buffers' bytes grew BUFFER_COLLECT_GROWTH_BYTES above their low, at most one per sample; and the
 * one thing it relies on, that such a collection frees promoted buffers V8 itself leaves alone.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createLogger } from '@meshlan/mesh'
import { BufferCollect } from '../src/buffer-collect.ts'
import { BUFFER_COLLECT_GROWTH_BYTES, BUFFER_COLLECT_SAMPLE_MS } from '../src/constants.ts'
import { DAEMON_NODE_FLAGS } from '../src/index.ts'
import { fakeTicker } from './fixtures/fake-ticker.ts'

const MB = 1024 * 1024
const GROWTH = BUFFER_COLLECT_GROWTH_BYTES

/** A collection on a fake counter: `look(bytes)` runs one sample with the buffers at `bytes`. */
function fake(opts: { collect?: boolean } = {}) {
  let bytes = 0
  const collected: number[] = []
  const { tasks, every, tick } = fakeTicker()
  const bc = new BufferCollect({
    every,
    collect: opts.collect === false ? null : () => collected.push(bytes),
    log: createLogger('buffer-collect-test'),
    bufferBytes: () => bytes,
  })
  bc.start()
  return {
    bc,
    tasks,
    collected,
    look: (b: number) => {
      bytes = b
      tick()
    },
  }
}

describe('buffer collection', () => {
  it('looks on the ticker every BUFFER_COLLECT_SAMPLE_MS', () => {
    const f = fake()
    assert.deepEqual(
      f.tasks.map((t) => t.ms),
      [BUFFER_COLLECT_SAMPLE_MS],
    )
  })

  it('collects when the buffers grew the threshold above their low, not before', () => {
    const f = fake()
    f.look(12 * MB)
    f.look(8 * MB) // the low
    f.look(8 * MB + GROWTH - 1)
    assert.deepEqual(f.collected, [])
    f.look(8 * MB + GROWTH)
    assert.deepEqual(f.collected, [8 * MB + GROWTH])
  })

  it('after a collection the low follows the bytes down; steady bytes never collect again', () => {
    const f = fake()
    f.look(5 * MB)
    f.look(5 * MB + GROWTH + MB)
    assert.equal(f.collected.length, 1)
    // the collection frees over the next moments
    f.look(10 * MB)
    for (let i = 0; i < 50; i++) f.look(10 * MB + ((i * 7) % 5) * MB)
    assert.equal(f.collected.length, 1, 'buffers going up and down by less than the threshold')
    f.look(10 * MB + GROWTH)
    assert.equal(f.collected.length, 2)
  })

  it('buffers that stay (a collection freed nothing) are collected again only after as much more growth', () => {
    const f = fake()
    f.look(0)
    f.look(GROWTH)
    f.look(GROWTH) // nothing was freed: the low is now GROWTH
    f.look(2 * GROWTH - 1)
    assert.equal(f.collected.length, 1)
    f.look(2 * GROWTH)
    assert.equal(f.collected.length, 2)
  })

  it('a look whose bytes could not be read (negative) is skipped', () => {
    const f = fake()
    f.look(0)
    f.look(-1)
    f.look(GROWTH - 1)
    assert.equal(f.collected.length, 0)
    f.look(GROWTH)
    assert.equal(f.collected.length, 1)
  })

  it('at most one collection per look, whatever the growth', () => {
    const f = fake()
    f.look(0)
    f.look(100 * GROWTH)
    assert.equal(f.collected.length, 1)
    assert.equal(f.bc.collections, 1)
  })

  it('without --expose-gc it schedules nothing; stop cancels its task', () => {
    assert.equal(fake({ collect: false }).tasks.length, 0)
    const f = fake()
    f.bc.stop()
    assert.equal(f.tasks.length, 0)
  })
})

describe('bufferCollection (contract: what the buffer collection relies on)', () => {
  it('frees ~24 MB of promoted buffers that V8 left alone for a second, within a second', () => {
    const mod = JSON.stringify(join(import.meta.dirname, '../src/buffer-collect.ts'))
    // In a child with DAEMON_NODE_FLAGS: 64 KiB buffers made slowly, as socket reads pile up, and
    // kept across two scavenges (promoted, as a read queued in the pipeline is), then dropped.
    // V8 may start a marking of its own as the pile grows; a full collection while the pile is
    // still alive ends it (and leaves the pile in the old generation), so that after the drop
    // nothing of V8's own is under way. The pile must then be seen to stay for a second with the
    // event loop turning (else it is built again, up to three times); then bufferCollection(),
    // and it must go within a second.
    const script = `
      const { bufferCollection } = await import(${mod})
      const bytes = () => process.memoryUsage().arrayBuffers
      const turn = (ms) => new Promise((r) => setTimeout(r, ms))
      gc(); await turn(50); gc()
      const base = bytes()
      const tries = []
      for (let t = 0; t < 3; t++) {
        let keep = []
        for (let i = 0; i < 384; i++) {
          keep.push(Buffer.allocUnsafeSlow(65536).fill(i))
          if (i % 8 === 7) await turn(5)
        }
        gc({ type: 'minor' }); gc({ type: 'minor' }); gc()
        keep = null
        await turn(200)
        const before = bytes() - base
        await turn(1000)
        const alone = bytes() - base
        tries.push({ before, alone })
        if (before > 20 * 1048576 && alone > before - 2 * 1048576) break
        gc(); await turn(50); gc()
      }
      const last = tries.at(-1)
      bufferCollection()()
      const t0 = performance.now()
      while (performance.now() - t0 < 1000 && bytes() - base > last.alone / 2) await turn(10)
      console.log(JSON.stringify({ tries, after: bytes() - base, ms: Math.round(performance.now() - t0) }))
    `
    const flags = [...DAEMON_NODE_FLAGS, '--input-type=module', '-e', script]
    const out = execFileSync(process.execPath, flags, { encoding: 'utf8' })
    const r = JSON.parse(out) as {
      tries: Array<{ before: number; alone: number }>
      after: number
      ms: number
    }
    const last = r.tries.at(-1)!
    assert.ok(
      last.before > 20 * MB && last.alone > last.before - 2 * MB,
      `V8 never left the pile alone for a second: ${JSON.stringify(r.tries)}`,
    )
    assert.ok(r.after < 4 * MB, `${last.alone} → ${r.after} bytes ${r.ms} ms after the collection`)
  })
})
