/**
 * A stream paused again while its resume hands over what it buffered stays paused at the muxer
 * (patches/@libp2p__utils@*.patch).
 *
 * `AbstractMessageStream.resume()` dispatched the buffered data and then told the muxer to resume
 * unconditionally: a 'message' listener that paused the stream inside that dispatch (the relay
 * governor, a member out of tokens; the relay's forwarding, a full destination) left the stream
 * 'paused' for its reader while yamux granted window again, so the remote kept sending into a read
 * buffer nobody drained — in the relay-governor test a member released 4 MB at its next resume
 * instead of one window, and the relay's 4 MB/s cap let 14–17 MB through in 3 s. Over real
 * loopback TCP between two libp2p nodes, with a sender that writes as fast as it is let.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { YAMUX_MAX_WINDOW } from '../src/constants.ts'
import type { MeshLibp2p } from '../src/transport.ts'
import { loopbackNode } from './helpers.ts'

const SINK = '/meshlan/test/pause-in-resume/1.0.0'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('a stream paused inside its own resume', () => {
  let a: MeshLibp2p
  let b: MeshLibp2p
  let incoming: Promise<Stream>
  before(async () => {
    ;[a, b] = await Promise.all([loopbackNode(), loopbackNode()])
    let got: (s: Stream) => void = () => {}
    incoming = new Promise((r) => {
      got = r
    })
    await b.handle(SINK, (stream) => got(stream))
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('holds what the sender may send to one window', async (t) => {
    const out = await a.dialProtocol(b.getMultiaddrs(), SINK, { signal: AbortSignal.timeout(5000) })
    t.after(() => out.abort(new Error('test over')))
    const sink = await incoming
    let received = 0
    let repause = false
    sink.addEventListener('message', (evt) => {
      received += evt.data.byteLength
      // the governor's move: out of tokens while handling released data, pause again
      if (repause) sink.pause()
    })
    sink.pause()
    // the sender writes whenever its stream takes more: far more than a window
    let sending = true
    const chunk = new Uint8Array(32 * 1024)
    const writer = (async () => {
      while (sending && out.writeStatus === 'writable') {
        if (!out.send(chunk))
          await Promise.race([
            new Promise((r) => out.addEventListener('drain', r, { once: true })),
            sleep(50),
          ])
      }
    })()
    t.after(async () => {
      sending = false
      await writer
    })
    await sleep(300)
    const heldPaused = sink.readBufferLength
    repause = true
    sink.resume() // hands over the buffer; the listener pauses again inside that hand-over
    assert.equal(sink.readStatus, 'paused')
    // paused for its reader and for the muxer: at most the window granted before the pause.
    // Unpatched the muxer resumed: the read buffer grows by what the sender writes, until it passes
    // maxReadBufferLength and the stream is aborted (its buffer then reads 0: watch it meanwhile)
    let most = 0
    for (let i = 0; i < 50; i++) {
      most = Math.max(most, sink.readBufferLength)
      await sleep(10)
    }
    console.log(
      `# buffered ${heldPaused} B while paused, handed over ${received} B, then at most ${most} B in 500 ms after the re-pause; stream ${sink.status}`,
    )
    assert.ok(received > 0, 'the resume handed over what was buffered')
    assert.ok(
      most <= 2 * YAMUX_MAX_WINDOW,
      `${most} B arrived at a paused stream (window ${YAMUX_MAX_WINDOW})`,
    )
    assert.equal(sink.status, 'open', 'the paused stream was not aborted for its read buffer')
    sending = false
  })
})
