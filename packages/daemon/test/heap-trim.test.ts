/**
 * The heap trim (heap-trim.ts): a full collection when the daemon has been quiet and its heap grew,
 * never under load; and the one thing it relies on, that the daemon's flags give it V8's full
 * collection.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createLogger } from '@meshlan/mesh'
import {
  HEAP_TRIM_CHECK_MS,
  HEAP_TRIM_MIN_GROWTH_BYTES,
  HEAP_TRIM_QUIET_CPU,
  HEAP_TRIM_ROUNDS,
  HEAP_TRIM_SAMPLE_MS,
} from '../src/constants.ts'
import { HeapTrim } from '../src/heap-trim.ts'
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../src/index.ts'
import { fakeTicker } from './fixtures/fake-ticker.ts'

const MB = 1024 * 1024

/** A trim on fake clocks: `period(cpuShare)` advances one check period at that CPU share. */
function fakeTrim(opts: { collect?: boolean } = {}) {
  let now = 0
  let cpu = 0
  let heap = 20 * MB
  let traffic = false
  const collected: number[] = []
  const { tasks, every, tick } = fakeTicker()
  const trim = new HeapTrim({
    every,
    collect:
      opts.collect === false
        ? null
        : () => {
            collected.push(heap)
            heap = 15 * MB // what a full collection leaves
          },
    log: createLogger('heap-test'),
    trafficNow: () => traffic,
    cpuMicros: () => cpu,
    heapUsed: () => heap,
    nowMs: () => now,
  })
  trim.start()
  /** One sample at `share` of a core (a tunnel carrying traffic at its end with `busyTunnel`). */
  const sample = (share: number, busyTunnel = false) => {
    now += HEAP_TRIM_SAMPLE_MS
    cpu += share * HEAP_TRIM_SAMPLE_MS * 1000
    traffic = busyTunnel
    tick()
  }
  return {
    trim,
    tasks,
    collected,
    grow: (bytes: number) => {
      heap += bytes
    },
    sample,
    /** HEAP_TRIM_CHECK_MS of samples at `share`. */
    period: (share: number) => {
      for (let at = 0; at < HEAP_TRIM_CHECK_MS; at += HEAP_TRIM_SAMPLE_MS) sample(share)
    },
  }
}

describe('heap trim', () => {
  it('samples on the ticker every HEAP_TRIM_SAMPLE_MS', () => {
    const t = fakeTrim()
    assert.deepEqual(
      t.tasks.map((x) => x.ms),
      [HEAP_TRIM_SAMPLE_MS],
    )
  })

  it('a transfer starting at the end of a quiet period is not collected into', () => {
    const t = fakeTrim()
    const quietSamples = Math.ceil(HEAP_TRIM_CHECK_MS / HEAP_TRIM_SAMPLE_MS)
    // quiet up to the last sample, then one whose CPU share is still low but a tunnel is sending
    for (let i = 0; i < quietSamples - 1; i++) t.sample(0.003)
    t.sample(0.01, true)
    assert.equal(t.collected.length, 0, 'collected while a tunnel carried traffic')
    // the transfer's first seconds at 4 % of a core: below the quiet share, but in a short sample
    // a real transfer is far above it; the tunnel says so meanwhile
    for (let i = 0; i < quietSamples; i++) t.sample(0.04, true)
    assert.equal(t.collected.length, 0, 'collected during the transfer')
    t.period(0.003)
    assert.equal(t.collected.length, 1, 'a whole quiet period after it: collected')
  })

  it('collects once in each of the first HEAP_TRIM_ROUNDS quiet periods after start-up, then never while idle', () => {
    const t = fakeTrim()
    t.period(0.003) // an idle daemon
    assert.equal(t.collected.length, 1, 'the first quiet period collects start-up garbage')
    for (let i = 1; i < HEAP_TRIM_ROUNDS; i++) t.period(0.003)
    assert.equal(t.collected.length, HEAP_TRIM_ROUNDS, 'one collection a period, HEAP_TRIM_ROUNDS in all')
    for (let i = 0; i < 20; i++) {
      t.grow(HEAP_TRIM_MIN_GROWTH_BYTES) // gossip at 50 peers grows an idle heap
      t.period(0.003)
    }
    assert.equal(
      t.collected.length,
      HEAP_TRIM_ROUNDS,
      'idle growth is left to V8 (collecting it cost 0.05 % of a core)',
    )
  })

  it('never collects in a busy period; trims in the quiet ones after, if the heap grew', () => {
    const t = fakeTrim()
    for (let i = 0; i < HEAP_TRIM_ROUNDS; i++) t.period(0.003)
    const n = t.collected.length
    t.grow(30 * MB)
    t.period(HEAP_TRIM_QUIET_CPU) // at the threshold counts as busy
    t.period(0.6) // a transfer
    assert.equal(t.collected.length, n)
    t.period(0.01)
    assert.equal(t.collected.length, n + 1, 'the transfer ended: its garbage collected')
    assert.equal(t.collected[n], 15 * MB + 30 * MB, 'the first collection of the trim found the growth')
    for (let i = 0; i < HEAP_TRIM_ROUNDS + 3; i++) t.period(0.01)
    assert.equal(t.collected.length, n + HEAP_TRIM_ROUNDS, 'one trim per busy spell')
    t.grow(HEAP_TRIM_MIN_GROWTH_BYTES - 1)
    t.period(0.2) // a short burst that allocated little
    t.period(0.01)
    assert.equal(
      t.collected.length,
      n + HEAP_TRIM_ROUNDS,
      'grown by less than the minimum since the last: no collection',
    )
  })

  it('a busy period ends a trim early; the next quiet one starts a new trim', () => {
    const t = fakeTrim()
    t.period(0.003)
    assert.equal(t.collected.length, 1)
    t.grow(10 * MB)
    t.period(0.5) // traffic again, mid-trim: no collection under load
    assert.equal(t.collected.length, 1)
    for (let i = 0; i < HEAP_TRIM_ROUNDS + 3; i++) t.period(0.003)
    assert.equal(t.collected.length, 1 + HEAP_TRIM_ROUNDS, 'a whole trim after the busy period')
  })

  it('without a full collection (no --expose-gc) it schedules nothing', () => {
    const t = fakeTrim({ collect: false })
    assert.equal(t.tasks.length, 0)
  })

  it('stop cancels its task', () => {
    const t = fakeTrim()
    t.trim.stop()
    assert.equal(t.tasks.length, 0)
  })
})

describe('fullCollection (contract: what the heap trim relies on)', () => {
  it('with DAEMON_NODE_FLAGS it is a major collection that gives the freed pages back', () => {
    const mod = JSON.stringify(join(import.meta.dirname, '../src/heap-trim.ts'))
    // ~16 MB of old-space garbage, then one collection: the RSS must fall with the heap (a plain
    // gc() frees the objects and keeps the pages: RSS unchanged, which is what the trim is not)
    const script = `
      const { fullCollection } = await import(${mod})
      const { PerformanceObserver, constants } = await import('node:perf_hooks')
      const { getHeapStatistics } = await import('node:v8')
      const kinds = []
      const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) kinds.push(e.detail.kind) })
      obs.observe({ entryTypes: ['gc'] })
      let keep = []
      for (let i = 0; i < 200; i++) { keep.push(new Array(10000).fill(i)); if (i % 10 === 0) await null }
      keep = null
      const before = { used: getHeapStatistics().used_heap_size, rss: process.memoryUsage().rss }
      const collect = fullCollection()
      collect()
      const after = { used: getHeapStatistics().used_heap_size, rss: process.memoryUsage().rss }
      await new Promise((r) => setTimeout(r, 50))
      console.log(JSON.stringify({ major: kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), before, after }))
    `
    const out = execFileSync(process.execPath, [...DAEMON_NODE_FLAGS, '--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    const r = JSON.parse(out) as {
      major: boolean
      before: Record<string, number>
      after: Record<string, number>
    }
    assert.ok(r.major, 'the collection was a major one')
    assert.ok(
      r.before.used - r.after.used > 8 * MB,
      `freed ${r.before.used - r.after.used} bytes of ~16 MB garbage`,
    )
    assert.ok(r.before.rss - r.after.rss > 8 * MB, `RSS ${r.before.rss} → ${r.after.rss}: the pages stayed`)
  })

  it('HEAP_TRIM_ROUNDS of them drop the bytecode of code that ran once; one fewer does not', () => {
    const mod = JSON.stringify(join(import.meta.dirname, '../src/heap-trim.ts'))
    // 300 functions that run once (start-up code), then collections with the event loop turning
    // between them as on the ticker; V8's trusted space holds their bytecode
    const script = `
      const { fullCollection } = await import(${mod})
      const { getHeapSpaceStatistics } = await import('node:v8')
      const trusted = () => getHeapSpaceStatistics().find((s) => s.space_name === 'trusted_space').space_used_size
      const fns = []
      for (let i = 0; i < 300; i++) {
        let body = 'let s = 0;'
        for (let j = 0; j < 200; j++) body += 's += (a * ' + j + ' + ' + i + ') % 7; if (s > ' + j * 3 + ') s -= a;'
        fns.push(new Function('a', body + ' return s'))
      }
      let sum = 0
      for (const f of fns) sum += f(3)
      const collect = fullCollection()
      const used = [trusted()]
      for (let i = 0; i < ${HEAP_TRIM_ROUNDS}; i++) {
        await new Promise((r) => setTimeout(r, 20))
        collect()
        used.push(trusted())
      }
      console.log(JSON.stringify({ used, kept: fns.length, sum }))
    `
    const out = execFileSync(process.execPath, [...DAEMON_NODE_FLAGS, '--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    const { used } = JSON.parse(out) as { used: number[] }
    const [start, ...after] = used as [number, ...number[]]
    const last = after[after.length - 1] as number
    const beforeLast = after[after.length - 2] ?? start
    assert.ok(start > 2 * MB, `the functions' bytecode is there: ${start} bytes`)
    assert.ok(last < start / 2, `after ${HEAP_TRIM_ROUNDS} collections: ${used.join(' → ')} (not dropped)`)
    assert.ok(
      beforeLast > (start * 3) / 4,
      `dropped before the last collection (${used.join(' → ')}): HEAP_TRIM_ROUNDS can be lowered`,
    )
  })

  it("it also gives malloc's free pages back, which glibc alone keeps (with DAEMON_ENV)", () => {
    const mod = JSON.stringify(join(import.meta.dirname, '../src/heap-trim.ts'))
    // ~24 MB of 60 KiB buffers (malloc'd, under the mmap threshold), the last one kept so the
    // heap's top stays in use: once the rest are freed, only a trim anywhere in the heap returns them
    const script = `
      const { fullCollection } = await import(${mod})
      const { readFileSync } = await import('node:fs')
      // anonymous memory only: the collection also unmaps file pages (releaseFilePages)
      const rss = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
      let bufs = []
      for (let i = 0; i < 400; i++) bufs.push(Buffer.allocUnsafeSlow(60 * 1024).fill(i))
      const last = bufs[bufs.length - 1]
      bufs = null
      globalThis.gc({ type: 'major', execution: 'sync' })
      // V8 frees array buffers' memory on a worker thread: wait until it has (a slow machine)
      for (let i = 0; i < 100 && process.memoryUsage().arrayBuffers > 8 * 1024 * 1024; i++) {
        await new Promise((r) => setTimeout(r, 50))
      }
      const freed = rss()
      await new Promise((r) => setTimeout(r, 200))
      const later = rss()
      fullCollection()()
      const trimmed = rss()
      console.log(JSON.stringify({ freed, later, trimmed, kept: last.length }))
    `
    const out = execFileSync(process.execPath, [...DAEMON_NODE_FLAGS, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ...DAEMON_ENV },
    })
    const r = JSON.parse(out) as { freed: number; later: number; trimmed: number }
    assert.ok(
      r.freed - r.later < 4 * MB,
      `glibc returned it by itself (${r.freed} → ${r.later}): no trim needed`,
    )
    assert.ok(r.later - r.trimmed > 16 * MB, `RssAnon ${r.later} → ${r.trimmed}: malloc's free pages stayed`)
  })

  it("it unmaps start-up's file pages, and the process runs on from the page cache", () => {
    const mod = JSON.stringify(join(import.meta.dirname, '../src/heap-trim.ts'))
    // after the drop the child goes on through code that calls across shared libraries (through
    // their relocated tables: had a RELRO segment been zapped, the first such call would crash),
    // and checks what it computes; a 32 MB buffer of its own (anonymous) keeps its contents
    const script = `
      const { releaseFilePages } = await import(${mod})
      const { createHash } = await import('node:crypto')
      const { gzipSync, gunzipSync } = await import('node:zlib')
      const { readFileSync } = await import('node:fs')
      const kb = (k) => Number(new RegExp(k + ':\\\\s+(\\\\d+)').exec(readFileSync('/proc/self/status', 'utf8'))[1])
      const mine = Buffer.alloc(32 * 1024 * 1024, 0x5a)
      const before = { file: kb('RssFile'), anon: kb('RssAnon') }
      const dropped = releaseFilePages()
      const after = { file: kb('RssFile'), anon: kb('RssAnon') }
      const digest = createHash('sha256').update('meshlan').digest('hex')
      const round = gunzipSync(gzipSync(Buffer.from('x'.repeat(100000)))).length
      const intact = mine.every((b) => b === 0x5a)
      console.log(JSON.stringify({ before, after, dropped, digest, round, intact }))
    `
    const out = execFileSync(process.execPath, [...DAEMON_NODE_FLAGS, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ...DAEMON_ENV },
    })
    const r = JSON.parse(out) as {
      before: { file: number; anon: number }
      after: { file: number; anon: number }
      dropped: number
      digest: string
      round: number
      intact: boolean
    }
    assert.ok(
      r.before.file - r.after.file > 10 * 1024,
      `RssFile ${r.before.file} → ${r.after.file} kB: none dropped`,
    )
    assert.ok(r.dropped > 10 * MB, `reported ${r.dropped} bytes`)
    assert.ok(
      r.after.anon > r.before.anon - 1024,
      `RssAnon ${r.before.anon} → ${r.after.anon} kB: anonymous pages went`,
    )
    assert.equal(
      r.digest,
      '65702da95330e14992f5cb28dd42d8e1d156844e5606ffd039220b97be4479a5',
      'sha256 after the drop',
    )
    assert.equal(r.round, 100000)
    assert.equal(r.intact, true)
  })

  it('without --expose-gc there is none (the trim stays off)', () => {
    const mod = JSON.stringify(join(import.meta.dirname, '../src/heap-trim.ts'))
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${mod}); console.log(m.fullCollection() === null)`,
      ],
      { encoding: 'utf8' },
    )
    assert.equal(out.trim(), 'true')
  })
})
