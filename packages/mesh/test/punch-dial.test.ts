/**
 * The hole-punch dial through refusals, in-process with a fake dialer (no packet leaves): retried
 * from the same port while refused, paced and bounded by the window and the shared attempt
 * budget; other errors end it at once. And the "does the peer speak first" check that tells a
 * simultaneous open from the peer's listener, over a real loopback socket pair.
 */
import assert from 'node:assert/strict'
import { createServer, type Server, Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { DialRefusedError, DialTimeoutError } from '@meshlan/tun'
import {
  MAX_PUNCH_ATTEMPTS,
  PUNCH_FIRST_BYTES_MS,
  PUNCH_REDIAL_MAX_MS,
  PUNCH_REDIAL_MIN_MS,
} from '../src/reachability/constants.ts'
import { PunchRefusedError } from '../src/reachability/errors.ts'
import type { PortDialer } from '../src/reachability/holepunch.ts'
import {
  AttemptBudget,
  dialThroughRefusals,
  jittered,
  peerSpeaksWithin,
  retryPaceMs,
  silentRedialMs,
} from '../src/reachability/punch-dial.ts'

/** A dialer refused `refusals` times (Infinity: always), then "connected" (a fresh Socket). */
function fakeDialer(refusals: number, other?: Error) {
  const calls: Array<{ at: number; localPort: number; remote: string }> = []
  const dial: PortDialer = async (init) => {
    calls.push({
      at: performance.now(),
      localPort: init.localPort,
      remote: `${init.remoteAddress}:${init.remotePort}`,
    })
    if (other != null) throw other
    if (calls.length <= refusals)
      throw new DialRefusedError(`0.0.0.0:${init.localPort}`, `${init.remoteAddress}:${init.remotePort}`)
    return new Socket()
  }
  return { dial, calls }
}

const base = { localPort: 7946, remoteAddress: '198.51.100.7', remotePort: 7946 }

describe('dialThroughRefusals', () => {
  it('refused 5 times, then connected: 6 tries, all from the listening port, paced', async () => {
    const { dial, calls } = fakeDialer(5)
    const pace = 8
    const r = await dialThroughRefusals({
      ...base,
      dial,
      deadline: performance.now() + 2_000,
      paceMs: pace,
      budget: new AttemptBudget(100),
      random: () => 0, // the shortest jittered wait: half the pace
    })
    r.socket.destroy()
    assert.equal(r.attempts, 6)
    assert.equal(calls.length, 6)
    assert.ok(calls.every((c) => c.localPort === 7946 && c.remote === '198.51.100.7:7946'))
    for (let i = 1; i < calls.length; i++) {
      const gap = calls[i].at - calls[i - 1].at
      // timers have 1 ms granularity
      assert.ok(gap >= pace * 0.5 - 1, `gap ${gap} ms below half the pace`)
    }
  })

  it('refused for the whole window: PunchRefusedError with the count of tries', async () => {
    const { dial, calls } = fakeDialer(Number.POSITIVE_INFINITY)
    const t0 = performance.now()
    const err = await dialThroughRefusals({
      ...base,
      dial,
      deadline: t0 + 200,
      paceMs: 5,
      budget: new AttemptBudget(MAX_PUNCH_ATTEMPTS),
    }).catch((e: unknown) => e)
    const took = performance.now() - t0
    assert.ok(err instanceof PunchRefusedError, String(err))
    assert.equal(err.attempts, calls.length)
    assert.ok(err.attempts >= 10, `only ${err.attempts} tries in 200 ms at a 5 ms pace`)
    assert.ok(took >= 195 && took < 400, `gave up after ${took} ms, the window is 200 ms`)
    assert.match(err.message, /refused or unanswered \d+ times in \d+ ms/)
  })

  it('the attempt budget is shared and bounds the tries', async () => {
    const budget = new AttemptBudget(7)
    const one = fakeDialer(Number.POSITIVE_INFINITY)
    const two = fakeDialer(Number.POSITIVE_INFINITY)
    const deadline = performance.now() + 5_000
    const results = await Promise.allSettled([
      dialThroughRefusals({ ...base, dial: one.dial, deadline, paceMs: 2, budget }),
      dialThroughRefusals({
        ...base,
        remoteAddress: '198.51.100.8',
        dial: two.dial,
        deadline,
        paceMs: 2,
        budget,
      }),
    ])
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof PunchRefusedError))
    assert.equal(one.calls.length + two.calls.length, 7)
    assert.equal(budget.used, 7)
  })

  it('any other error ends the dial at once (no retry of a timeout)', async () => {
    const timeout = new DialTimeoutError('0.0.0.0:7946', '198.51.100.7:7946', 100)
    const { dial, calls } = fakeDialer(0, timeout)
    await assert.rejects(
      dialThroughRefusals({
        ...base,
        dial,
        deadline: performance.now() + 1_000,
        paceMs: 2,
        budget: new AttemptBudget(100),
      }),
      DialTimeoutError,
    )
    assert.equal(calls.length, 1)
  })

  it('with silentRedialMs (IPv6), a try nobody answered is sent again from a fresh socket, bounded', async () => {
    // silent 3 times (each "waits" its per-try timeout), then connected
    const timeouts: number[] = []
    let n = 0
    const dial: PortDialer = async (init) => {
      timeouts.push(init.timeoutMs ?? -1)
      if (++n <= 3) throw new DialTimeoutError('[::]:7946', '[2001:2::b]:7946', init.timeoutMs ?? 0)
      return new Socket()
    }
    const budget = new AttemptBudget(100)
    const r = await dialThroughRefusals({
      ...base,
      remoteAddress: '2001:2::b',
      dial,
      deadline: performance.now() + 1_000,
      paceMs: 2,
      budget,
      silentRedialMs: 25,
    })
    assert.equal(r.attempts, 4)
    assert.deepEqual(timeouts, [25, 25, 25, 25], 'each try waits the silent re-dial time, not the window')
    assert.equal(budget.used, 4, 'silent re-dials count against the budget')
    // and the budget ends it: 5 silent tries at most
    let m = 0
    const never: PortDialer = async (init) => {
      m++
      throw new DialTimeoutError('[::]:7946', '[2001:2::b]:7946', init.timeoutMs ?? 0)
    }
    await assert.rejects(
      dialThroughRefusals({
        ...base,
        dial: never,
        deadline: performance.now() + 1_000,
        paceMs: 2,
        budget: new AttemptBudget(5),
        silentRedialMs: 25,
      }),
      PunchRefusedError,
    )
    assert.equal(m, 5)
  })

  it('the silent re-dial time: two relay RTTs, 25 ms to 1 s', () => {
    assert.equal(silentRedialMs(null), 25)
    assert.equal(silentRedialMs(3), 25)
    assert.equal(silentRedialMs(80), 160)
    assert.equal(silentRedialMs(5000), 1000)
  })

  it('stops when aborted', async () => {
    const { dial, calls } = fakeDialer(Number.POSITIVE_INFINITY)
    const ac = new AbortController()
    setTimeout(() => ac.abort(new Error('won elsewhere')), 30)
    await assert.rejects(
      dialThroughRefusals({
        ...base,
        dial,
        deadline: performance.now() + 5_000,
        paceMs: 5,
        budget: new AttemptBudget(1000),
        signal: ac.signal,
      }),
      /won elsewhere/,
    )
    const n = calls.length
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(calls.length, n, 'no try after the abort')
  })

  it('the pace: a fraction of the relay RTT, bounded, jittered ×0.5–1.5', () => {
    assert.equal(retryPaceMs(null), PUNCH_REDIAL_MIN_MS)
    assert.equal(retryPaceMs(1), PUNCH_REDIAL_MIN_MS)
    assert.equal(retryPaceMs(160), 20)
    assert.equal(retryPaceMs(10_000), PUNCH_REDIAL_MAX_MS)
    assert.equal(
      jittered(10, () => 0),
      5,
    )
    assert.equal(jittered(10, () => 0.999999).toFixed(3), '15.000')
  })
})

describe('peerSpeaksWithin (loopback socket pair)', () => {
  let server: Server
  let port = 0
  const accepted: Socket[] = []
  before(async () => {
    server = createServer((s) => accepted.push(s))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as { port: number }).port
  })
  after(async () => {
    for (const s of accepted) s.destroy()
    await new Promise((r) => server.close(r))
  })

  async function pair(): Promise<[Socket, Socket]> {
    const n = accepted.length
    const c = new Socket()
    await new Promise<void>((r) => c.connect(port, '127.0.0.1', r))
    while (accepted.length === n) await new Promise((r) => setTimeout(r, 5))
    return [c, accepted[accepted.length - 1]]
  }

  it('true when the far end writes in time, and the bytes are still there to read', async () => {
    const [ours, theirs] = await pair()
    setTimeout(() => theirs.write('/multistream/1.0.0\n'), 20)
    assert.equal(await peerSpeaksWithin(ours, 1_000), true)
    const got = await new Promise<string>((r) => {
      ours.on('data', (d) => r(String(d)))
      ours.resume()
    })
    assert.equal(got, '/multistream/1.0.0\n')
    ours.destroy()
  })

  it('waits out an initiator that connects one initial RTO (1 s) after us: its SYN-ACK was lost', async () => {
    const [ours, theirs] = await pair()
    setTimeout(() => theirs.write('/multistream/1.0.0\n'), 1_200)
    assert.equal(await peerSpeaksWithin(ours, PUNCH_FIRST_BYTES_MS), true)
    ours.destroy()
  })

  it('false when the far end stays silent (a listener waiting as responder)', async () => {
    const [ours] = await pair()
    const t0 = performance.now()
    assert.equal(await peerSpeaksWithin(ours, 100), false)
    assert.ok(performance.now() - t0 >= 95)
    ours.destroy()
  })
})
