/**
 * What a member relay forwards for members (reachability/relay-governor.ts), in-process over real
 * loopback TCP: a fair share per member whatever its number of circuits, a quota that cuts one
 * member with a reason while another goes on, and the relay's own ping answered under load.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2'
import { YAMUX_RELAYED_MAX_WINDOW } from '../src/constants.ts'
import { RelayQuotaExceededError } from '../src/reachability/errors.ts'
import { blast, type RelayFixture, relayFixture } from './relay-fixture.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A full garbage collection, so that what is measured is what is held. */
function collect(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

describe('relay governor: fair share per member', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('two members relaying at once each get a fair share, though one has three circuits', async () => {
    // 4 MB/s for members together: far below what loopback carries, so the cap decides
    const rate = 4_000_000
    fx = await relayFixture(5, { rateBytesPerSec: rate })
    const [a, b, c, d, e] = fx.members
    // without the governor the relay serves circuits, not members: a got 66 % with two circuits
    // against b's one (measured), so three make a per-circuit split fail here
    const circuits = [await fx.circuit(a, c), await fx.circuit(a, d), await fx.circuit(a, e)]
    const bc = await fx.circuit(b, c)
    const ms = 3000
    const started = performance.now()
    const blasts = Promise.all([...circuits.map((x) => blast(x, ms)), blast(bc, ms)])
    // what arrived by the deadline (and 300 ms for the last window): after it, blast() waits in
    // close() for whatever its senders queued to trickle through the cap — with corked socket
    // writes the senders queue more, and that tail (10 s of it) is not what the cap is about
    await sleep(ms + 300)
    const fromA = fx.received(c, a) + fx.received(d, a) + fx.received(e, a)
    const fromB = fx.received(c, b)
    const total = fromA + fromB
    // the timer may fire late on a busy machine: the cap is over the time that really passed
    const elapsed = performance.now() - started
    const stats = fx.governor?.stats()
    const throttledA = stats?.members.find((m) => m.peerId === a.peerId.toString())?.throttled ?? 0
    console.log(
      `# relay cap ${rate / 1e6} MB/s: a (3 circuits) got ${(fromA / 1e6).toFixed(2)} MB, b (1 circuit) ${(fromB / 1e6).toFixed(2)} MB in ${ms} ms (a ${((100 * fromA) / total).toFixed(0)} %); a paused ${throttledA}×`,
    )
    // measured 47–53 % over 12 runs alone, 39.6 % once in CI with another test's mesh starting
    // beside it (ticks late); before the windows were capped and a re-pause held at the muxer
    // (patches/, stream-pause.test.ts), 31–66 %; a split per circuit gives b 25 %
    assert.ok(fromA >= 0.35 * total, `a got ${fromA} of ${total}`)
    assert.ok(fromB >= 0.35 * total, `b got ${fromB} of ${total}`)
    // the cap held over the time counted: one bucket of burst per member and the first windows
    // on top (before: 14–17 MB in 3.3 s, an uncapped window released per resume)
    assert.ok(
      total <= (rate * elapsed) / 1000 + 1024 * 1024,
      `relayed ${total} B in ${elapsed.toFixed(0)} ms over a cap of ${rate}/s`,
    )
    // paced tick by tick (27–33 pauses in 30 ticks), not in window-sized gulps (before: 3–5)
    assert.ok(throttledA >= 10, `a was paused ${throttledA}× for using its share`)
    await blasts
  })
})

describe('relay governor: quota per member', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('a member over its quota is cut with the reason and refused; another member still relays', async () => {
    const quota = 1_000_000
    fx = await relayFixture(4, { quotaBytes: quota, quotaPeriodMs: 60_000 })
    const [a, b, c, d] = fx.members
    const ac = await fx.circuit(a, c)
    // the governor picks up new relay streams each tick: give it one before the burst
    await sleep(250)
    const r = await blast(ac, 5000)
    assert.ok(r.error != null, `a's stream survived ${r.sent} bytes over a ${quota} B quota`)
    const got = fx.received(c, a)
    assert.ok(got < 2 * quota, `c got ${got} B from a, quota ${quota}`)
    const usage = fx.governor?.stats().members.find((m) => m.peerId === a.peerId.toString())
    assert.ok((usage?.quotaCuts ?? 0) >= 1, JSON.stringify(usage))
    assert.match(String(usage?.refusedBecause), /over its quota of 1\.0 MB.*relay_member_quota_mb/)
    // a new circuit for a is refused while it is over; the reason is the governor's
    await assert.rejects(fx.circuit(a, d), 'a is refused a new circuit')
    const after1 = fx.governor?.stats().members.find((m) => m.peerId === a.peerId.toString())
    assert.ok((after1?.quotaRefused ?? 0) >= 1, JSON.stringify(after1))
    assert.ok(new RelayQuotaExceededError('x', 2, 1, 60_000).message.includes('resumes in 1 min'))
    // b, under its quota, still relays to d
    const bd = await fx.circuit(b, d)
    // well under its quota: 256 KiB
    const rb = await blast(bd, 2000, 256 * 1024)
    await sleep(300)
    assert.equal(rb.error, null)
    assert.ok(fx.received(d, b) > 0, 'b still relays')
    console.log(
      `# quota ${quota / 1e6} MB: a cut after ${(got / 1e6).toFixed(2)} MB arrived (${r.error?.message.slice(0, 60)}…), refused ${after1?.quotaRefused}× after; b relayed ${fx.received(d, b)} B`,
    )
  })
})

describe('relay governor: circuits per member', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('a member at its circuit limit is refused another; others still get theirs', async () => {
    fx = await relayFixture(4, { maxCircuitsPerMember: 2 })
    const [a, b, c, d] = fx.members
    await fx.circuit(a, b)
    await fx.circuit(a, c)
    await assert.rejects(fx.circuit(a, d), 'a third circuit from a is refused')
    const bd = await fx.circuit(b, d)
    const { sent } = await blast(bd, 300)
    await sleep(200)
    assert.ok(sent > 0 && fx.received(d, b) > 0, 'b still relays to d')
  })
})

describe('relay governor: no tick while nothing is relayed', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('sleeps on an idle relay, wakes for a circuit and holds it to the cap, sleeps once it closed', async () => {
    const rate = 2_000_000
    fx = await relayFixture(2, { rateBytesPerSec: rate })
    const gov = fx.governor
    assert.ok(gov != null)
    const [a, b] = fx.members
    await sleep(300)
    assert.equal(gov.ticking, false, 'no circuit: the tick sleeps')
    const ab = await fx.circuit(a, b)
    assert.equal(gov.ticking, true, 'admitting the circuit woke the tick')
    // the cap holds for a circuit admitted while the governor slept
    const ms = 1500
    const started = performance.now()
    const blasting = blast(ab, ms)
    await sleep(ms + 300)
    const got = fx.received(b, a)
    const elapsed = performance.now() - started
    console.log(
      `# woken governor: ${(got / 1e6).toFixed(2)} MB in ${elapsed.toFixed(0)} ms at a ${rate / 1e6} MB/s cap`,
    )
    assert.ok(got > 0, 'the circuit carried data')
    assert.ok(got <= (rate * elapsed) / 1000 + 1024 * 1024, `${got} B passed a ${rate} B/s cap`)
    assert.equal(gov.relayedWithin(1000), true, 'carrying a circuit is traffic (the heap trim waits)')
    await blasting
    await ab.close()
    const asleep = Date.now()
    while (gov.ticking && Date.now() - asleep < 3000) await sleep(50)
    assert.equal(gov.ticking, false, 'the circuit closed: the tick sleeps again')
    await sleep(250)
    assert.equal(gov.relayedWithin(200), false, 'the circuit closed: nothing relayed since')
  })
})

describe('relay governor: the relay\u2019s own traffic under load', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('the relay pings a member while relaying bulk for two others: every ping answered', async () => {
    // defaults: no cap; shares and the headroom apply only while the relay is busy
    fx = await relayFixture(4, {})
    const [a, b, c, d] = fx.members
    const ac = await fx.circuit(a, c)
    const bd = await fx.circuit(b, d)
    const load = Promise.all([blast(ac, 3000), blast(bd, 3000)])
    await sleep(300)
    const rtts: number[] = []
    let lost = 0
    while (rtts.length + lost < 20) {
      try {
        rtts.push(await fx.relay.services.ping.ping(c.peerId, { signal: AbortSignal.timeout(1000) }))
      } catch {
        lost++
      }
      await sleep(100)
    }
    await load
    const relayed = fx.received(c, a) + fx.received(d, b)
    rtts.sort((x, y) => x - y)
    const stats = fx.governor?.stats()
    console.log(
      `# relay pings c while relaying ${(relayed / 1e6).toFixed(1)} MB for a and b: ${rtts.length}/20 answered, median ${rtts[rtts.length >> 1]?.toFixed(0)} ms, max ${rtts.at(-1)?.toFixed(0)} ms; members paused ${stats?.throttled}×`,
    )
    assert.ok(relayed > 1_000_000, `the load was real: ${relayed} B relayed`)
    assert.equal(lost, 0, `${lost} of the relay's pings went unanswered within 1 s`)
  })
})

describe('relay governor: a busy relay with nothing of its own to protect', () => {
  const fixtures: RelayFixture[] = []
  after(async () => {
    for (const f of fixtures) await f.stop()
  })

  /**
   * Bytes one member relays through a relay that always reports a saturated CPU: in all `ms`, and
   * in its second half — after the backoff from the first tick's (unlimited) rate has run its
   * course, which takes ~20 ticks at RELAY_BUSY_BACKOFF and moves 5× whatever that first tick did
   * (4.9–47 MB measured, by how warm the process was).
   */
  async function relayedWhileBusy(
    ownTraffic: boolean,
    ms: number,
  ): Promise<{ bytes: number; late: number; paused: number }> {
    const fx = await relayFixture(2, { load: () => 1, ownTraffic: () => ownTraffic })
    fixtures.push(fx)
    const [a, b] = fx.members
    const blasting = blast(await fx.circuit(a, b), ms)
    await sleep(ms / 2)
    const half = fx.received(b, a)
    await blasting
    await sleep(200)
    const bytes = fx.received(b, a)
    return { bytes, late: bytes - half, paused: fx.governor?.stats().throttled ?? -1 }
  }

  it('backs off only while its own tunnel carries traffic: a lone member is not held back', async () => {
    const held = await relayedWhileBusy(true, 2000)
    const free = await relayedWhileBusy(false, 2000)
    const mb = (n: number) => (n / 1e6).toFixed(1)
    console.log(
      `# busy relay, 2 s of one member: own traffic ${mb(held.bytes)} MB (${mb(held.late)} in the 2nd second, paused ${held.paused}×), none ${mb(free.bytes)} MB (${mb(free.late)}, paused ${free.paused}×)`,
    )
    // with own traffic the budget shrinks towards the floor each busy tick: the member is paused
    assert.ok(held.paused > 0, 'backed off while the relay had traffic of its own')
    // once backed off it relays about the floor (~1.3 MB/s); without own traffic, what it can
    assert.ok(
      free.late > 5 * held.late,
      `not held back without own traffic: ${free.late} vs ${held.late} B in the second second`,
    )
  })
})

describe('relay forwarding: a destination that stops reading', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('the relay holds at most a window, whatever the source sends (our circuit-relay-v2 patch)', async () => {
    fx = await relayFixture(2)
    const [a, b] = fx.members
    const relayed = await fx.circuit(a, b)
    await blast(relayed, 300) // the circuit carried data: its windows may have grown
    // the destination stops reading the relay's STOP stream, and the source writes straight into
    // its HOP stream: a sender that ignores the end-to-end window (two colluding members)
    const relayId = fx.relay.peerId.toString()
    const stop = b
      .getConnections(fx.relay.peerId)
      .flatMap((c) => c.streams)
      .find((s) => s.protocol === RELAY_V2_STOP_CODEC)
    const hop = a
      .getConnections(fx.relay.peerId)
      .flatMap((c) => c.streams)
      .find((s) => s.protocol === RELAY_V2_HOP_CODEC)
    assert.ok(stop != null && hop != null, `the circuit's streams through ${relayId}`)
    stop.pause()
    await sleep(200)
    collect()
    const before = process.memoryUsage().arrayBuffers
    // what the relay itself holds for this circuit: the HOP stream's unread bytes and the STOP
    // stream's unsent ones (the sockets' kernel buffers are bounded by the kernel). Sampled all
    // along, since a relay that buffers and later drains would pass a check at the end.
    const circuitStreams = () =>
      fx.relay
        .getConnections()
        .flatMap((c) => c.streams)
        .filter((s) => s.protocol === RELAY_V2_HOP_CODEC || s.protocol === RELAY_V2_STOP_CODEC)
    let held = 0
    let hopUnread = 0
    let stopUnsent = 0
    const sample = setInterval(() => {
      let now = 0
      for (const s of circuitStreams()) {
        now += s.readBufferLength + s.writeBufferLength
        if (s.protocol === RELAY_V2_HOP_CODEC) hopUnread = Math.max(hopUnread, s.readBufferLength)
        else stopUnsent = Math.max(stopUnsent, s.writeBufferLength)
      }
      held = Math.max(held, now)
    }, 5)
    // one buffer sent again and again: what the source queues costs nothing, every byte the
    // relay receives is a fresh buffer
    const chunk = new Uint8Array(64 * 1024)
    const total = 128 * 1024 * 1024
    try {
      for (let sent = 0; sent < total; sent += chunk.byteLength) {
        hop.send(chunk)
        if (sent % (4 * 1024 * 1024) === 0) await sleep(20)
      }
      await sleep(1500)
    } finally {
      clearInterval(sample)
    }
    assert.ok(circuitStreams().length >= 2, 'the relay still has the circuit’s two streams')
    collect()
    const grew = process.memoryUsage().arrayBuffers - before
    console.log(
      `# source wrote ${total >> 20} MiB into a stalled circuit: the relay held at most ${(held / 1e6).toFixed(1)} MB in the circuit's streams (HOP unread ≤ ${(hopUnread / 1e6).toFixed(1)}, STOP unsent ≤ ${(stopUnsent / 1e6).toFixed(1)}), ${(hop.writeBufferLength / 1e6).toFixed(1)} MB still queued at the source, buffers in this process grew ${(grew / 1e6).toFixed(1)} MB`,
    )
    assert.ok(hop.writeBufferLength > total / 2, 'the relay stopped taking the source’s bytes')
    // a window on each side of the relay, and one chunk in flight
    const bound = 2 * YAMUX_RELAYED_MAX_WINDOW + chunk.byteLength
    assert.ok(held <= bound, `the relay held ${held} B in the circuit's streams (at most ${bound})`)
    // and the process as a whole (source, relay and destination in one) did not keep what was
    // sent: the figure also counts buffers awaiting collection, hence the loose bound
    assert.ok(grew < total / 2, `buffers grew ${grew} B for ${total} B sent`)
  })
})
