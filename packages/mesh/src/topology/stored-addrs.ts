/**
 * Members' record addresses as written into libp2p's peer store (so that libp2p can dial them):
 * written when they change, and unchanged again after PEER_STORE_REFRESH_MS, inside the hour after
 * which the peer store forgets an address it was not given again. Every peer-table recompute offers
 * every member's record, and a peer store write loads, parses, merges, sorts and re-encodes the
 * peer's whole entry: at 50 members that was most of an idle node's CPU (docs/benchmarks.md).
 */
import type { PeerStore } from '@libp2p/interface'
import type { NodeRecord } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import { PEER_STORE_REFRESH_MS } from '../constants.ts'
import type { Logger } from '../logger.ts'
import { peerIdOf } from '../peer-ids.ts'

export class StoredAddrs {
  private readonly peerStore: PeerStore
  private readonly log: Logger
  /** Entries past this are dropped all at once: writing again is all that costs. */
  private readonly max: number
  /** Per member, the addresses last written and when. */
  private readonly written = new Map<string, { addrs: string; at: number }>()

  constructor(peerStore: PeerStore, log: Logger, max: number) {
    this.peerStore = peerStore
    this.log = log
    this.max = max
  }

  /** Writes the record's addresses unless the same were written less than the refresh age ago. */
  async remember(r: NodeRecord, now = Date.now()): Promise<void> {
    if (r.addrs.length === 0) return
    const addrs = r.addrs.join(' ')
    const last = this.written.get(r.peerId)
    if (last != null && last.addrs === addrs && now - last.at < PEER_STORE_REFRESH_MS) return
    try {
      await this.peerStore.merge(peerIdOf(r.peerId), { multiaddrs: r.addrs.map((a) => multiaddr(a)) })
      if (this.written.size >= this.max) this.written.clear()
      this.written.set(r.peerId, { addrs, at: now })
    } catch (err) {
      this.log.debug('peer store merge failed', { peer: r.peerId, error: (err as Error).message })
    }
  }

  /** The member is gone: a return writes its addresses again. */
  forget(peerId: string): void {
    this.written.delete(peerId)
  }
}
