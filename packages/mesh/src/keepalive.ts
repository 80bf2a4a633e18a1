/**
 * What a connection's yamux keepalive knows, behind one small adapter (its contract:
 * test/keepalive.test.ts, which fails loudly when a libp2p or yamux upgrade breaks an assumption).
 *
 * Each end of every connection pings its peer every KEEPALIVE_MS (transport.ts). Those pings are
 * the only idle traffic a connection needs, so the node reads its answers instead of sending pings
 * of its own: the RTT for status and the metrics (rtt.ts), the relay ranking, and whether a
 * connected member still answers (topology isOnline).
 *
 * `muxer` is not in libp2p's typed Connection; libp2p 3.3.11's connection keeps it, and
 * @libp2p/yamux 8 keeps `rtt` (ms, -1 before the first pong) and `activePing` (the ping awaiting its
 * pong, with its start time in ms; yamux never gives up on a ping, so an unanswered one keeps its
 * start). Both are read defensively: anything else reads as "the muxer does not say".
 */
import type { Connection } from '@libp2p/interface'
import { KEEPALIVE_TIMEOUT_MS } from './constants.ts'

export interface KeepaliveView {
  /** The last round trip in ms; null before the first pong or while a ping is overdue. */
  rttMs: number | null
  /** False while a ping has gone unanswered for longer than KEEPALIVE_TIMEOUT_MS. */
  answering: boolean
}

interface YamuxKeepalive {
  rtt: number
  activePing?: { start: number }
}

function yamuxOf(conn: Connection): YamuxKeepalive | null {
  const m = (conn as unknown as { muxer?: Partial<YamuxKeepalive> }).muxer
  return m != null && typeof m.rtt === 'number' ? (m as YamuxKeepalive) : null
}

/** The connection's keepalive as of `now`, or null when its muxer keeps none we can read. */
export function keepaliveOf(conn: Connection, now = Date.now()): KeepaliveView | null {
  const y = yamuxOf(conn)
  if (y == null) return null
  const start = y.activePing?.start
  const answering = typeof start !== 'number' || now - start <= KEEPALIVE_TIMEOUT_MS
  return { rttMs: answering && y.rtt >= 0 ? y.rtt : null, answering }
}
