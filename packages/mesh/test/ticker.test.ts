/**
 * The ticker (src/ticker.ts): a node's periodic upkeep runs in gossipsub's heartbeat, so an idle
 * node wakes for the heartbeat only (issue 14). Unit tests with a fake heartbeat, then a started
 * mesh: no service of ours starts an interval, and the upkeep still runs, inside heartbeats.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TICKER_FALLBACK_HEARTBEATS } from '../src/constants.ts'
import { type HeartbeatSource, Ticker } from '../src/ticker.ts'
import { buildMesh, recordIntervals, until } from './helpers.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A heartbeat we dispatch by hand; `inBeat` says whether a listener runs inside one. */
class FakeHeartbeat extends EventTarget implements HeartbeatSource {
  inBeat = false
  beat(): void {
    this.inBeat = true
    try {
      this.dispatchEvent(new Event('gossipsub:heartbeat'))
    } finally {
      this.inBeat = false
    }
  }
}

describe('Ticker', () => {
  it('driven: tasks run only inside heartbeats, at the first one at or after they are due', async () => {
    let now = 1_000_000
    const ticker = new Ticker({ now: () => now })
    const hb = new FakeHeartbeat()
    ticker.drive(hb, 2_000)
    const runs: Array<{ task: string; at: number; inBeat: boolean }> = []
    ticker.every(5_000, () => runs.push({ task: 'a', at: now, inBeat: hb.inBeat }))
    ticker.every(10_000, () => runs.push({ task: 'b', at: now, inBeat: hb.inBeat }))
    try {
      for (let i = 0; i < 11; i++) {
        now += 2_000
        hb.beat()
      }
      // a due at +5 s, +10 s, +15 s, +20 s: run at the heartbeats at +4 s (1 s early: within half a
      // heartbeat), +10 s, +14 s, +20 s; b due at +10 s, +20 s
      assert.deepEqual(
        runs.map((r) => `${r.task}@${(r.at - 1_000_000) / 1000}`),
        ['a@4', 'a@10', 'b@10', 'a@14', 'a@20', 'b@20'],
      )
      assert.ok(
        runs.every((r) => r.inBeat),
        'a task ran outside a heartbeat',
      )
    } finally {
      ticker.stop()
    }
  })

  it('driven but the heartbeats stop: the fallback timer runs the task, TICKER_FALLBACK_HEARTBEATS late', async () => {
    const ticker = new Ticker()
    const hb = new FakeHeartbeat()
    const heartbeatMs = 50
    const periodMs = 200
    ticker.drive(hb, heartbeatMs)
    const t0 = Date.now()
    const at: number[] = []
    ticker.every(periodMs, () => at.push(Date.now() - t0))
    try {
      // the fallback is due at 300 ms; the next period's at 500 ms: checked half-way between
      await sleep(periodMs + heartbeatMs * TICKER_FALLBACK_HEARTBEATS + 100)
      assert.equal(at.length, 1, `ran at ${at.join(', ')} ms`)
      assert.ok(at[0] >= periodMs + heartbeatMs * TICKER_FALLBACK_HEARTBEATS - 2, `ran at ${at[0]} ms`)
    } finally {
      ticker.stop()
    }
  })

  it('not driven: a timer of its own runs tasks due together in one callback; cancel and stop end them', async () => {
    const seen: string[] = []
    let callback = 0
    const real = globalThis.setTimeout
    // count the ticker's timer callbacks (each is one wake-up)
    globalThis.setTimeout = ((fn: () => void, ms?: number) =>
      real(() => {
        callback++
        fn()
      }, ms)) as typeof setTimeout
    const ticker = new Ticker()
    try {
      ticker.every(200, () => seen.push(`a${callback}`))
      const cancelB = ticker.every(200, () => seen.push(`b${callback}`))
      // periods of 200 ms, checked between them: a loaded test run must not shift a run across a check
      await new Promise((r) => real(r, 300))
      assert.deepEqual(seen, ['a1', 'b1'], 'two tasks due together ran in one timer callback')
      cancelB()
      await new Promise((r) => real(r, 200))
      assert.deepEqual(seen.slice(2), ['a2'])
      ticker.stop()
      await new Promise((r) => real(r, 300))
      assert.equal(seen.length, 3, 'a task ran after stop()')
    } finally {
      globalThis.setTimeout = real
      ticker.stop()
    }
  })

  it('refuses a period that is not positive', () => {
    assert.throws(() => new Ticker().every(0, () => {}), RangeError)
  })
})

describe('the node’s upkeep in the heartbeat', () => {
  it('a started mesh starts no interval of ours, and its upkeep runs inside gossipsub heartbeats', async () => {
    const { value: mesh, intervals } = await recordIntervals(() =>
      buildMesh({ members: [{ name: 'm1', key: 'k' }], keys: { k: { rules: [{ to: ['*'] }] } } }),
    )
    try {
      const ours = intervals.filter((s) => /packages\/(mesh|daemon)\/src\//.test(s))
      assert.deepEqual(ours, [], 'a service of ours started an interval of its own')
      // a task on the node's ticker runs from gossipsub's heartbeat (its stack says so)
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 50
      const stacks: string[] = []
      const cancel = mesh.owner.ticker.every(100, () => stacks.push(new Error().stack ?? ''))
      try {
        await until(() => stacks.length >= 2, 10_000)
      } finally {
        cancel()
        Error.stackTraceLimit = limit
      }
      for (const st of stacks) assert.match(st, /gossipsub\.js/, `a task ran outside a heartbeat:\n${st}`)
    } finally {
      await mesh.stop()
    }
  })
})
