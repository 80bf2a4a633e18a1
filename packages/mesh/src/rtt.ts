/**
 * Each member's round-trip time, for `meshlan status`, the metrics and nothing else (no path or
 * liveness decision reads it).
 *
 * It costs no bytes when it can: every connection's yamux keepalive already pings its peer
 * (keepalive.ts) and keeps the last round trip. A ping stream per member every few seconds (what
 * this used to be) cost ~12 frames per member per round: at 50 members, ~2.9 KB/s of a node's
 * ~25 KB/s idle underlay (packages/mesh/bench/idle.ts, issue 14). Only a connection whose muxer
 * does not say (another muxer) gets a ping stream.
 */
import type { Connection } from '@libp2p/interface'
import { PING_TIMEOUT_MS } from './constants.ts'
import { keepaliveOf } from './keepalive.ts'
import { pingConnection } from './reachability/paths.ts'

/**
 * The keepalive's last RTT; null when it has none yet or its current ping is overdue (the peer is
 * gone or the path is dead: no stale number in status); undefined when the muxer does not keep one.
 */
export function muxerRtt(conn: Connection, now = Date.now()): number | null | undefined {
  const k = keepaliveOf(conn, now)
  return k == null ? undefined : k.rttMs
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
