/**
 * Peer id strings to libp2p `PeerId` objects, parsed once.
 *
 * The periodic services (the direct-path watchdog every 300 ms–1 s, topology, relay upkeep) look
 * connections up by a member's id string, and `peerIdFromString` decodes base58 and the embedded
 * public key every time. Called a few times a second that code never gets optimised: measured
 * 430 µs a call cold, 8 µs hot, and in an idle two-node mesh with one active tunnel the watchdog's
 * parsing alone was 0.13 % of a core (docs/benchmarks.md, "Idle cost", session 7). A `PeerId` is
 * immutable, so one parse per member is enough.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { PEER_ID_CACHE_MAX } from './constants.ts'

const cache = new Map<string, PeerId>()

/** The `PeerId` of `id`; throws as `peerIdFromString` does for a string that is not one. */
export function peerIdOf(id: string): PeerId {
  let p = cache.get(id)
  if (p === undefined) {
    p = peerIdFromString(id)
    if (cache.size >= PEER_ID_CACHE_MAX) cache.clear()
    cache.set(id, p)
  }
  return p
}
