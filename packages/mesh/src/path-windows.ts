/**
 * Yamux windows by path: one small adapter around the connection encrypter and the muxer, and the
 * window of a circuit's hop and stop streams.
 *
 * A direct connection keeps small windows (YAMUX_MAX_WINDOW): what waits beyond them waits in the
 * pump's flow queues, where CoDel sees it, so a ping next to a bulk flow stays fast. A relayed
 * connection's round trip runs through three event loops and two sockets; with the same 256 KiB
 * its tunnel stream was window-bound (measured: 256–268 Mbit/s relayed against 913–1120 direct,
 * relay CPU 71–76 %; with 4 MiB 362–504). So a relayed connection's muxer lets its windows grow to
 * YAMUX_RELAYED_MAX_WINDOW (yamux grows a window only while the reader keeps up with it).
 *
 * libp2p hands the muxer factory only the encrypted stream, which does not say where it leads; the
 * encrypter does see the raw connection and its address. So the encrypter wrapper notes which
 * encrypted streams lead over a circuit (a WeakSet: nothing outlives its connection) and the muxer
 * factory picks its windows from that. Contract (test/path-windows.test.ts): libp2p 3.3.11's
 * upgrader passes the raw MultiaddrConnection (with `remoteAddr`) to `secureInbound`/
 * `secureOutbound` and the very `connection` they return to `createStreamMuxer`; a relayed
 * connection whose muxer got the small windows fails that test.
 *
 * The relayed bytes also cross two direct connections (member → relay: the HOP stream; relay →
 * member: the STOP stream), each under its receiver's window. Those connections carry the tunnel
 * too, so their muxer keeps the small windows, and only the hop and stop streams may grow theirs
 * (`maxStreamWindowSizeFor`, a patch of ours to @libp2p/yamux 8.0.3 — patches/, asked whenever a
 * window may grow, by then the stream's protocol is known; a relay throttling a member caps that
 * member's streams lower, `capRelayStreamWindow`). Measured with both: 501–520 Mbit/s
 * relayed (3 runs), direct path latency under load unchanged.
 */
import { RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2'
import type { ConnectionEncrypter, MessageStream, StreamMuxerFactory } from '@libp2p/interface'
import { CODE_P2P_CIRCUIT, type Multiaddr } from '@multiformats/multiaddr'
import { YAMUX_RELAYED_MAX_WINDOW } from './constants.ts'

/** Whether an address leads through a circuit relay (the one rule: paths.ts isRelayed uses it). */
export function isCircuitAddr(addr: Multiaddr): boolean {
  return addr.getComponents().some((c) => c.code === CODE_P2P_CIRCUIT)
}

function remoteAddrOf(conn: MessageStream): Multiaddr | null {
  const addr = (conn as { remoteAddr?: unknown }).remoteAddr
  return addr != null && typeof (addr as Multiaddr).getComponents === 'function' ? (addr as Multiaddr) : null
}

/** The encrypted streams of relayed connections, noted by `pathAwareEncrypter`. */
export type RelayedStreams = WeakSet<object>

/** An encrypter that does what `inner` does and notes which secured streams are relayed. */
export function pathAwareEncrypter<C>(
  inner: (components: C) => ConnectionEncrypter,
  relayed: RelayedStreams,
): (components: C) => ConnectionEncrypter {
  return (components) => {
    const enc = inner(components)
    const note = (raw: MessageStream, secured: MessageStream): void => {
      const addr = remoteAddrOf(raw)
      if (addr != null && isCircuitAddr(addr)) relayed.add(secured)
    }
    return {
      protocol: enc.protocol,
      async secureInbound(conn, options) {
        const out = await enc.secureInbound(conn, options)
        note(conn, out.connection)
        return out
      },
      async secureOutbound(conn, options) {
        const out = await enc.secureOutbound(conn, options)
        note(conn, out.connection)
        return out
      },
    }
  }
}

/** A muxer factory that hands relayed connections to `relayedMuxer`, all others to `directMuxer`. */
export function pathAwareMuxer<C>(
  directMuxer: (components: C) => StreamMuxerFactory,
  relayedMuxer: (components: C) => StreamMuxerFactory,
  relayed: RelayedStreams,
): (components: C) => StreamMuxerFactory {
  return (components) => {
    const direct = directMuxer(components)
    const viaRelay = relayedMuxer(components)
    if (direct.protocol !== viaRelay.protocol) {
      throw new TypeError(`one muxer protocol for both paths (${direct.protocol} vs ${viaRelay.protocol})`)
    }
    return {
      protocol: direct.protocol,
      createStreamMuxer: (conn) => (relayed.has(conn) ? viaRelay : direct).createStreamMuxer(conn),
    }
  }
}

/** Window caps a member relay set on single hop and stop streams (relay-governor.ts). */
const streamCaps = new WeakMap<object, number>()

/**
 * Caps one hop or stop stream's window at `bytes` (null: lift the cap). A paused stream's window
 * otherwise grows at each resume (yamux counts the released burst as a fast reader), and a member
 * throttled by the relay would then send a whole YAMUX_RELAYED_MAX_WINDOW per stream each time it
 * is let go: measured before this cap, a relay capped at 4 MB/s forwarded 14–16 MB in 3 s, and a
 * member with three circuits got 31–61 % against one with one.
 */
export function capRelayStreamWindow(stream: object, bytes: number | null): void {
  if (bytes == null) streamCaps.delete(stream)
  else streamCaps.set(stream, bytes)
}

/**
 * The window of a circuit's hop and stop streams: the larger relayed window, or the cap the relay
 * set on that stream; undefined (any other protocol): the muxer's own maximum. Asked by our yamux
 * patch at every window update of every stream: a lookup, no allocation.
 */
export function relayStreamWindow(protocol: string, stream?: object): number | undefined {
  if (protocol !== RELAY_V2_HOP_CODEC && protocol !== RELAY_V2_STOP_CODEC) return undefined
  return (stream != null ? streamCaps.get(stream) : undefined) ?? YAMUX_RELAYED_MAX_WINDOW
}
