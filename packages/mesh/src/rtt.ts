/**
 * Each member's round-trip time, for `meshlan status`, the metrics and nothing else (no path or
 * liveness decision reads it).
 *
 * It costs no bytes when it can: every connection's yamux muxer already pings its peer (its
 * keepalive, transport.ts) and keeps the last round trip. A ping stream per member every few
 * seconds (what this used to be) cost ~12 frames per member per round: at 50 members, ~2.9 KB/s
 * of a node's ~25 KB/s idle underlay (packages/mesh/bench/idle.ts, issue 14). Only a connection
 * whose muxer does not say (another muxer) gets a ping stream.
 *
 * `muxer` is not in libp2p's typed Connection; libp2p 3.3.11's connection keeps it, and
 * @libp2p/yamux 8 keeps `rtt` (ms, -1 before the first pong) and `activePing` (the ping awaiting
 * its pong, with its start time). Both are read defensively: anything else means "ask by ping".
 */
import type { Connection } from '@libp2p/interface'
import { PING_TIMEOUT_MS } from './constants.ts'
import { pingConnection } from './reachability/paths.ts'

interface YamuxRtt {
  rtt: number
  activePing?: { start: number }
}

function yamuxOf(conn: Connection): YamuxRtt | null {
  const m = (conn as unknown as { muxer?: Partial<YamuxRtt> }).muxer
  return m != null && typeof m.rtt === 'number' ? (m as YamuxRtt) : null
}

/**
 * The muxer's last RTT; null when it has none yet or its current ping went unanswered for longer
 * than PING_TIMEOUT_MS (the peer is gone or the path is dead: no stale number in status);
 * undefined when the muxer does not keep one.
 */
export function muxerRtt(conn: Connection, now = Date.now()): number | null | undefined {
  const y = yamuxOf(conn)
  if (y == null) return undefined
  if (y.activePing != null && now - y.activePing.start > PING_TIMEOUT_MS) return null
  return y.rtt >= 0 ? y.rtt : null
}

/** Refreshes `rtts` in place for every member with a connection. */
export async function refreshRtts(
  peers: Iterable<string>,
  paths: { best(peerId: string): Connection | undefined },
  rtts: Map<string, number>,
): Promise<void> {
  for (const peer of peers) {
    const conn = paths.best(peer)
    if (conn == null) {
      rtts.delete(peer)
      continue
    }
    const known = muxerRtt(conn)
    if (known !== undefined) {
      if (known == null) rtts.delete(peer)
      else rtts.set(peer, known)
      continue
    }
    await pingConnection(conn, PING_TIMEOUT_MS)
      .then((rtt) => rtts.set(peer, rtt))
      .catch(() => rtts.delete(peer))
  }
}
