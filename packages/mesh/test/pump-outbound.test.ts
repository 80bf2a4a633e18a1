/**
 * The pump's outbound tunnel stream against a hostile peer (issue 8 §5): the stream is ours to send
 * on; the far side may answer with a refusal and nothing else. Real libp2p streams (`streamPair`);
 * the far side writes raw frames, as a modified peer would.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { encodeControlFrame, encodeFrame, FRAME_TYPE_IP } from '@meshlan/wire'
import { TUNNEL_RETRY_AFTER_REFUSAL_MS } from '../src/constants.ts'
import { MemoryDevice } from '../src/memory-device.ts'
import type { Pump } from '../src/pump.ts'
import { allowAllPump, ipv4Packet } from './helpers.ts'

const SELF = '10.144.0.1'
const PEER = '10.144.0.2'

async function setup(): Promise<{ pump: Pump; device: MemoryDevice; ours: Stream; theirs: Stream }> {
  const [ours, theirs] = await streamPair()
  const device = new MemoryDevice()
  const pump = allowAllPump(SELF, PEER, {
    device,
    openStream: async () => ({ stream: ours, path: 'direct' }),
  })
  // a packet to the peer makes the pump open (and attach) its outbound stream
  device.inject([ipv4Packet(SELF, PEER, 17, 5000, 53)])
  for (let i = 0; i < 100 && !pump.linkStats()[0].streamOpen; i++) await new Promise((r) => setTimeout(r, 5))
  assert.equal(pump.linkStats()[0].streamOpen, true)
  return { pump, device, ours, theirs }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  assert.fail(`timed out waiting for ${what}`)
}

describe('pump: our outbound stream takes control frames only', () => {
  it('a peer writing IP frames back on our stream gets it closed with a reason, counted; nothing is held', async () => {
    const { pump, device, ours, theirs } = await setup()
    const chunk = new Uint8Array(46 * 1428)
    const frame = encodeFrame(FRAME_TYPE_IP, ipv4Packet(PEER, SELF, 17, 53, 5000, 1380))
    for (let i = 0; i < 46; i++) chunk.set(frame, i * frame.length)
    let sent = 0
    // up to 256 MiB, as in the issue; before, all of it stayed buffered in the decoder
    try {
      while (sent < 256 * 1024 * 1024 && ours.status === 'open') {
        const more = theirs.send(chunk)
        // backpressure: wait for 'drain', but not forever (once we abort, it never comes)
        if (!more)
          await new Promise((r) => {
            theirs.addEventListener('drain', r, { once: true })
            setTimeout(r, 20)
          })
        sent += chunk.length
        if (sent % (4 * 1024 * 1024) < chunk.length) await new Promise((r) => setTimeout(r, 1))
      }
    } catch {
      // the far side's send fails once we aborted
    }
    await until(() => ours.status !== 'open', 'our stream to close')
    assert.ok(sent < 16 * 1024 * 1024, `the stream stayed open for ${sent} bytes`)
    assert.equal(pump.dropCounts().BAD_FRAME, 1)
    assert.equal(pump.linkStats()[0].streamOpen, false)
    assert.equal(device.written.length, 0, 'nothing the peer wrote on our stream reached the device')
    pump.stop()
  })

  it('a refusal on our stream is still read and reported', async () => {
    const { pump, theirs } = await setup()
    theirs.send(encodeControlFrame({ t: 'refuse', code: 'ACL', reason: 'no rule of key guests allows it' }))
    await until(() => pump.linkStats()[0].refused != null, 'the refusal')
    assert.deepEqual(pump.linkStats()[0].refused, { code: 'ACL', reason: 'no rule of key guests allows it' })
    assert.equal(pump.dropCounts().BAD_FRAME, 0)
    pump.stop()
  })

  it('a refused stream is let go: after the retry delay the next packet opens a new one, which the peer accepts', async () => {
    const pairs = [await streamPair(), await streamPair()]
    let opened = 0
    const device = new MemoryDevice()
    const pump = allowAllPump(SELF, PEER, {
      device,
      openStream: async () => ({ stream: pairs[Math.min(opened++, 1)][0], path: 'direct' }),
    })
    try {
      // the first stream is refused as refuseStream does it: the reason, then the peer's side closed
      const first = pairs[0][1]
      device.inject([ipv4Packet(SELF, PEER, 17, 5000, 53)])
      await until(() => opened === 1 && pump.linkStats()[0].streamOpen, 'the first stream')
      first.send(encodeControlFrame({ t: 'refuse', code: 'ACL', reason: 'no filter for you yet' }))
      void first.close().catch(() => {})
      await until(() => pump.linkStats()[0].refused != null, 'the refusal')
      assert.equal(pump.linkStats()[0].streamOpen, false, 'the refused stream is still held')
      // the second stream: whatever reaches it after the retry delay
      let received = 0
      pairs[1][1].addEventListener('message', () => received++)
      const t0 = Date.now()
      while (received === 0 && Date.now() - t0 < TUNNEL_RETRY_AFTER_REFUSAL_MS + 2000) {
        device.inject([ipv4Packet(SELF, PEER, 17, 5000, 53)])
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.equal(opened, 2, 'no second stream was opened')
      assert.ok(received > 0, 'nothing reached the second stream')
      assert.ok(Date.now() - t0 >= TUNNEL_RETRY_AFTER_REFUSAL_MS - 100, 'retried before the delay')
      assert.equal(pump.linkStats()[0].refused, null, 'the refusal is still reported on an accepted stream')
    } finally {
      pump.stop()
    }
  })
})
