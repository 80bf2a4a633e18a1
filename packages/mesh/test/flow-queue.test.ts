/**
 * The per-peer send queue (tunnel/queue.ts) alone, with a stepped clock, and inside the pump with an
 * in-memory device and a fake stream whose window the test opens and closes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { FRAME_HEADER_BYTES } from '@meshlan/wire'
import { CODEL_INTERVAL_MS, CODEL_MIN_BACKLOG_BYTES, CODEL_TARGET_MS } from '../src/constants.ts'
import { MemoryDevice } from '../src/memory-device.ts'
import { FlowQueue, flowHash } from '../src/tunnel/queue.ts'
import { allowAllPump, ipv4Packet } from './helpers.ts'

const BULK = flowHash(1, 2, 6, 5201, 40000)
// a hash that lands in another of the 16 flow queues
const SPARSE = (() => {
  for (let id = 1; ; id++) {
    const h = flowHash(1, 2, 1, id, id)
    if ((h & 15) !== (BULK & 15)) return h
  }
})()

function frames(q: FlowQueue, now: number): number[] {
  const got: number[] = []
  while (q.dequeue(now)) got.push(q.outEnd - q.outStart)
  return got
}

describe('FlowQueue', () => {
  it('a standing queue is dropped by sojourn time (CoDel), and the sojourn comes down', () => {
    const q = new FlowQueue({ limitBytes: 1 << 20, quantum: 1000, minBacklog: 1000 })
    const slab = new Uint8Array(1000)
    // a TCP-like sender: 10 packets per ms against 9 leaving, 8 for 20 ms after each loss it sees
    let slowUntil = -1
    let seen = 0
    let sojournLate = 0
    let sojournMax = 0
    for (let t = 0; t < 2000; t++) {
      const offered = t < slowUntil ? 8 : 10
      for (let i = 0; i < offered; i++) q.enqueue(slab, 0, 1000, BULK, t)
      for (let i = 0; i < 9 && q.dequeue(t); i++) {
        sojournMax = Math.max(sojournMax, q.outSojourn)
        if (t >= 1500) sojournLate = Math.max(sojournLate, q.outSojourn)
      }
      if (q.codelDrops > seen) {
        seen = q.codelDrops
        slowUntil = t + 20
      }
    }
    assert.ok(q.codelDrops > 0, 'CoDel dropped nothing')
    assert.equal(q.overflowDrops, 0)
    // it grew past the target for an interval; then the drops kept it bounded: without them the
    // last packets would wait ~(2000 ms × 1/9) ≈ 220 ms
    assert.ok(sojournMax > CODEL_TARGET_MS, `sojourn never above target (${sojournMax} ms)`)
    assert.ok(sojournLate < 6 * CODEL_TARGET_MS, `sojourn ${sojournLate} ms at the end`)
  })

  it('a sender that ignores drops is not starved: CoDel drops at a rising rate, never all', () => {
    const q = new FlowQueue({ limitBytes: 1 << 20, quantum: 1000, minBacklog: 1000 })
    const slab = new Uint8Array(1000)
    let sent = 0
    for (let t = 0; t < 1000; t++) {
      for (let i = 0; i < 10; i++) q.enqueue(slab, 0, 1000, BULK, t)
      for (let i = 0; i < 9 && q.dequeue(t); i++) sent++
    }
    assert.ok(q.codelDrops > 5, `only ${q.codelDrops} drops`)
    assert.ok(sent > 8500, `sent only ${sent}`)
  })

  it('a short burst below the target is not dropped', () => {
    const q = new FlowQueue({ limitBytes: 1 << 20, quantum: 1000, minBacklog: 1000 })
    const slab = new Uint8Array(1000)
    for (let i = 0; i < 50; i++) q.enqueue(slab, 0, 1000, BULK, 0)
    assert.equal(frames(q, CODEL_TARGET_MS - 1).length, 50)
    assert.equal(q.codelDrops, 0)
  })

  it('a queue above the target for less than an interval is not dropped', () => {
    const q = new FlowQueue({ limitBytes: 1 << 20, quantum: 1000, minBacklog: 1000 })
    const slab = new Uint8Array(1000)
    for (let i = 0; i < 50; i++) q.enqueue(slab, 0, 1000, BULK, 0)
    let t = 2 * CODEL_TARGET_MS
    for (let i = 0; i < 50; i++, t += 1) assert.ok(q.dequeue(Math.min(t, CODEL_INTERVAL_MS - 1)))
    assert.equal(q.codelDrops, 0)
  })

  it('a sparse flow (a ping) goes ahead of a backlogged bulk flow', () => {
    const q = new FlowQueue({ limitBytes: 1 << 20, quantum: 1000, minBacklog: 1000 })
    const slab = new Uint8Array(2000)
    for (let i = 0; i < 100; i++) q.enqueue(slab, 0, 1000, BULK, 0)
    assert.ok(q.dequeue(1))
    q.enqueue(slab, 1000, 1084, SPARSE, 1)
    assert.ok(q.dequeue(1))
    assert.equal(q.outEnd - q.outStart, 84, 'the ping waited behind the bulk backlog')
    assert.equal(q.packets, 99)
  })

  it('at the byte limit the fattest flow loses its oldest packet, not the arriving sparse one', () => {
    const q = new FlowQueue({ limitBytes: 10_000, quantum: 1000 })
    const slab = new Uint8Array(1000)
    for (let i = 0; i < 10; i++) q.enqueue(slab, 0, 1000, BULK, i)
    q.enqueue(slab, 0, 100, SPARSE, 10)
    assert.equal(q.overflowDrops, 1)
    assert.equal(q.bytes, 9100)
    const got = frames(q, 10)
    assert.ok(got.includes(100), 'the sparse packet was dropped')
    assert.equal(got.length, 10)
  })

  it('the packet limit bounds the entries; clear() counts what it drops', () => {
    const q = new FlowQueue({ limitBytes: 1 << 20, limitPackets: 8 })
    const slab = new Uint8Array(64)
    for (let i = 0; i < 20; i++) q.enqueue(slab, 0, 64, flowHash(i, 2, 17, i, 53), 0)
    assert.equal(q.packets, 8)
    assert.equal(q.overflowDrops, 12)
    assert.equal(q.clear(), 8)
    assert.equal(q.overflowDrops, 20)
    assert.equal(q.dequeue(0), false)
    // usable again after clear
    q.enqueue(slab, 0, 64, BULK, 0)
    assert.deepEqual(frames(q, 0), [64])
  })

  it('two bulk flows share by deficit round robin', () => {
    const q = new FlowQueue({ limitBytes: 1 << 20, quantum: 1000, minBacklog: 1000 })
    const slab = new Uint8Array(1000)
    const other = flowHash(9, 9, 6, 1, 1)
    assert.notEqual(other & 15, BULK & 15)
    for (let i = 0; i < 10; i++) {
      q.enqueue(slab, 0, 1000, BULK, 0)
      q.enqueue(slab, 0, 500, other, 0)
    }
    // after the first turns each flow gets ~1000 bytes per round: 1 bulk packet, 2 small ones
    const got = frames(q, 1).slice(0, 12)
    const bulk = got.filter((n) => n === 1000).length
    assert.ok(bulk >= 3 && bulk <= 6, `bulk got ${bulk} of 12 turns: ${got}`)
  })
})

/** A stream whose window the test controls: `send` takes `room` chunks, then asks for 'drain'. */
class FakeStream extends EventTarget {
  status = 'open'
  writeBufferLength = 0
  sent: Uint8Array[] = []
  room = Number.POSITIVE_INFINITY
  send(data: Uint8Array): boolean {
    this.sent.push(data)
    this.room--
    return this.room > 0
  }
  open(room: number): void {
    this.room = room
    this.dispatchEvent(new Event('drain'))
  }
  abort(): void {
    this.status = 'aborted'
  }
  async close(): Promise<void> {
    this.status = 'closed'
  }
}

describe('pump: the peer queue under load', () => {
  const SELF = '10.144.0.1'
  const PEER = '10.144.0.2'

  async function setup() {
    let clock = 0
    const stream = new FakeStream()
    const device = new MemoryDevice()
    const pump = allowAllPump(
      SELF,
      PEER,
      { device, openStream: async () => ({ stream: stream as unknown as Stream, path: 'direct' }) },
      { now: () => clock, peerQueueBytes: 1 << 20 },
    )
    device.inject([ipv4Packet(SELF, PEER, 17, 5000, 53)])
    for (let i = 0; i < 100 && !pump.linkStats()[0].streamOpen; i++)
      await new Promise((r) => setTimeout(r, 2))
    assert.equal(pump.linkStats()[0].streamOpen, true)
    stream.sent.length = 0
    return { pump, device, stream, tick: (ms: number) => (clock += ms) }
  }

  it('a standing queue behind a slow stream is dropped by CoDel (counted), and a ping goes first', async () => {
    const { pump, device, stream, tick } = await setup()
    const bulk = ipv4Packet(SELF, PEER, 6, 40000, 5201, 1300)
    // the stream takes 4 packets per ms, the sender offers 5 — and 3 for 20 ms after a loss, as
    // TCP backs off: a queue stands until CoDel's drops reach the sender
    stream.room = 1
    let slowUntil = -1
    let seen = 0
    for (let t = 0; t < 2000; t++) {
      const offered = t < slowUntil ? 3 : 5
      // one batch each: separate slabs, so no two frames coalesce into one send
      for (let i = 0; i < offered; i++) device.inject([bulk])
      tick(1)
      stream.open(4)
      if (pump.dropCounts().CODEL > seen) {
        seen = pump.dropCounts().CODEL
        slowUntil = t + 20
      }
    }
    const drops = pump.dropCounts()
    assert.ok(drops.CODEL > 0, 'CoDel dropped nothing')
    assert.equal(drops.QUEUE_FULL, 0, 'the byte bound, not CoDel, limited the queue')
    // CoDel keeps the backlog near its floor (CODEL_MIN_BACKLOG_BYTES), far below the 1 MiB bound
    const queued = pump.linkStats()[0].queued
    assert.ok(queued < 2 * CODEL_MIN_BACKLOG_BYTES, `queued ${queued} bytes`)
    assert.equal(pump.linkStats()[0].drops, drops.CODEL)

    // a ping arrives behind the backlog and leaves first at the next drain
    stream.room = 1
    for (let i = 0; i < 5; i++) device.inject([bulk])
    const ping = ipv4Packet(SELF, PEER, 1, 7, 7, 56)
    device.inject([ping])
    stream.sent.length = 0
    stream.open(1)
    assert.equal(stream.sent.length, 1)
    assert.equal(stream.sent[0].byteLength, ping.length + FRAME_HEADER_BYTES, 'the ping waited behind bulk')
    pump.stop()
  })

  it("nothing more is handed to a stream whose own buffer holds data; its 'idle' resumes", async () => {
    const { pump, device, stream } = await setup()
    const p = ipv4Packet(SELF, PEER, 17, 5000, 53, 100)
    // what yamux holds beyond its window: a window update fires 'drain' while this is still there
    stream.writeBufferLength = 1000
    device.inject([p])
    device.inject([p])
    stream.dispatchEvent(new Event('drain'))
    assert.equal(stream.sent.length, 0)
    assert.equal(pump.linkStats()[0].queued, 2 * (p.length + FRAME_HEADER_BYTES))
    stream.writeBufferLength = 0
    stream.dispatchEvent(new Event('idle'))
    await new Promise((r) => queueMicrotask(() => r(null)))
    assert.equal(stream.sent.length, 2)
    assert.equal(pump.linkStats()[0].queued, 0)
    pump.stop()
  })

  it('while the stream takes everything, contiguous frames of a batch go out as one send', async () => {
    const { pump, device, stream } = await setup()
    const p = ipv4Packet(SELF, PEER, 17, 5000, 53, 100)
    device.inject([p, p, p, p])
    assert.equal(stream.sent.length, 1)
    assert.equal(stream.sent[0].byteLength, 4 * (p.length + FRAME_HEADER_BYTES))
    assert.equal(pump.linkStats()[0].queued, 0)
    pump.stop()
  })
})
