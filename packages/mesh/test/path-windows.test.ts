/**
 * The windows by path (src/path-windows.ts), over real loopback TCP: what a receiver lets a sender
 * put in flight, read as the bytes that still arrive after the receiver paused its stream (a paused
 * yamux stream grants no more window, so what arrives is what the window allowed).
 *
 * Guards two assumptions: libp2p hands the encrypter the raw connection and the muxer factory the
 * encrypted stream the encrypter returned (else relayed connections get small windows), and our
 * @libp2p/yamux patch asks `maxStreamWindowSizeFor` with the negotiated protocol (else the relay's
 * hop streams stay at 256 KiB).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Connection, Stream } from '@libp2p/interface'
import { YAMUX_MAX_WINDOW } from '../src/constants.ts'
import { isCircuitAddr } from '../src/path-windows.ts'
import { adapterOf, holdRelayStream } from '../src/reachability/libp2p-adapter.ts'
import type { MeshLibp2p } from '../src/transport.ts'
import { blast, type RelayFixture, relayFixture } from './relay-fixture.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const HOLD = '/meshlan/test/window-hold/1.0.0'

/** Streams of HOLD that `node` accepted, newest last. */
function holdStreams(node: MeshLibp2p): Stream[] {
  const got: Stream[] = []
  void node.handle(HOLD, (stream) => void got.push(stream), { runOnLimitedConnection: true })
  return got
}

/**
 * Sends on a HOLD stream of `conn` while the receiver reads (so its window may grow), then pauses
 * the receiver and returns the bytes that arrived after the pause.
 */
async function inFlightAfterPause(conn: Connection, accepted: Stream[]): Promise<number> {
  const stream = await conn.newStream(HOLD, {
    runOnLimitedConnection: true,
    signal: AbortSignal.timeout(5000),
  })
  const chunk = new Uint8Array(32 * 1024)
  let stop = false
  const sender = (async () => {
    while (!stop && stream.status === 'open') {
      if (!stream.send(chunk)) await new Promise((r) => stream.addEventListener('drain', r, { once: true }))
    }
  })()
  for (let i = 0; i < 100 && accepted.length === 0; i++) await sleep(10)
  const rx = accepted.at(-1)
  assert.ok(rx != null, 'the receiver accepted the stream')
  let read = 0
  rx.addEventListener('message', (evt) => {
    read += evt.data.byteLength
  })
  await sleep(1500) // long enough for yamux to double the window up to its cap
  rx.pause()
  await sleep(800)
  const held = rx.readBufferLength
  stop = true
  rx.resume()
  await Promise.race([sender, sleep(500)])
  stream.abort(new Error('done'))
  assert.ok(read > 4 * YAMUX_MAX_WINDOW, `data flowed before the pause: ${read} B`)
  return held
}

describe('yamux windows by path (real loopback TCP)', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('a direct connection keeps the small window; a relayed one grows its window past it', async () => {
    // two pairs: libp2p reuses a connection it has, so a pair is either direct or relayed
    fx = await relayFixture(4)
    const [a, b, c, d] = fx.members
    const relayed = await fx.circuit(a, b)
    assert.equal(isCircuitAddr(relayed.remoteAddr), true)
    const relayedHeld = await inFlightAfterPause(relayed, holdStreams(b))
    const tcpAddr = d.getMultiaddrs().find((m) => !isCircuitAddr(m))
    assert.ok(tcpAddr != null)
    const direct = await c.dial(tcpAddr, { signal: AbortSignal.timeout(5000) })
    assert.equal(isCircuitAddr(direct.remoteAddr), false)
    const directHeld = await inFlightAfterPause(direct, holdStreams(d))
    console.log(`# in flight after the receiver paused: direct ${directHeld} B, relayed ${relayedHeld} B`)
    assert.ok(directHeld <= YAMUX_MAX_WINDOW, `direct: at most the small window (${directHeld} B)`)
    assert.ok(relayedHeld > 2 * YAMUX_MAX_WINDOW, `relayed: the larger window (${relayedHeld} B)`)
  })

  it("the relay's hop stream grows its window past the small one (our @libp2p/yamux patch)", async () => {
    const [a, b] = fx.members
    const relayed = await fx.circuit(a, b)
    const sending = blast(relayed, 3000)
    await sleep(1500)
    // the member's upload arrives on the relay's inbound HOP stream; pausing it withholds window
    const streams = adapterOf(fx.relay).relayStreams()
    const hop = streams.find((s) => s.member === a.peerId.toString() && s.stream.direction === 'inbound')
    assert.ok(
      hop != null,
      `the relay forwards a circuit for a: ${streams.map((s) => `${s.member.slice(-6)} ${s.stream.direction} ${s.stream.protocol}`)}`,
    )
    // held, as the relay governor holds a stream: the relay's forwarding then leaves it paused
    holdRelayStream(hop.stream, true)
    hop.stream.pause()
    await sleep(800)
    const held = hop.stream.readBufferLength
    holdRelayStream(hop.stream, false)
    hop.stream.resume()
    await sending
    console.log(`# in flight on the relay's hop stream after it paused: ${held} B`)
    assert.ok(held > 2 * YAMUX_MAX_WINDOW, `the hop stream's larger window (${held} B)`)
  })
})
