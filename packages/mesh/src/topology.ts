/**
 * Topology: the signed node records of the network's members, as gossiped.
 *
 * A record is checked once, when it arrives (gossip validator or sync): size and schema, network,
 * the node's own signature, the clock skew, a sequence number above the last one we hold, and a
 * membership claim valid under the current policy. Only then is it stored and forwarded. When the
 * policy changes, every stored record's membership is decided again.
 */
import { EventEmitter } from 'node:events'
import { decodeRecord, type NodeRecord, publicKeyFromPeerId, verifyRecord } from '@meshlan/wire'
import { MAX_CLOCK_SKEW_MS, RECORD_OFFLINE_MS } from './constants.ts'
import type { Logger } from './logger.ts'
import type { Membership, PolicyStore } from './policy-store.ts'

export interface KnownNode {
  record: NodeRecord
  bytes: Uint8Array
  receivedAt: number
  membership: Membership
}

export type OfferResult = 'accepted' | 'stale' | { rejected: string }

export interface TopologyEvents {
  change: []
}

export class Topology extends EventEmitter<TopologyEvents> {
  private readonly nodes = new Map<string, KnownNode>()
  /** Highest seq seen per peer, even for records later dropped, so replays stay stale. */
  private readonly seqs = new Map<string, number>()
  private readonly policy: PolicyStore
  private readonly selfId: string
  private readonly log: Logger

  constructor(selfId: string, policy: PolicyStore, log: Logger) {
    super()
    this.selfId = selfId
    this.policy = policy
    this.log = log
  }

  get size(): number {
    return this.nodes.size
  }

  get(peerId: string): KnownNode | undefined {
    return this.nodes.get(peerId)
  }

  all(): KnownNode[] {
    return [...this.nodes.values()]
  }

  isOnline(n: KnownNode, now = Date.now()): boolean {
    return now - n.receivedAt < RECORD_OFFLINE_MS
  }

  /** Validates and stores a record envelope; `from` is the peer that handed it to us (for logs). */
  async offer(bytes: Uint8Array, now = Date.now()): Promise<OfferResult> {
    const dec = decodeRecord(bytes)
    if (!dec.ok) return { rejected: dec.reason }
    const r = dec.value.body
    if (r.networkId !== this.policy.networkId) return { rejected: 'record is for another network' }
    if (r.peerId === this.selfId) return 'stale'
    if (Math.abs(r.ts - now) > MAX_CLOCK_SKEW_MS)
      return { rejected: 'record timestamp too far from our clock' }
    const last = this.seqs.get(r.peerId) ?? -1
    if (r.seq <= last) return 'stale'
    const key = publicKeyFromPeerId(r.peerId)
    if (!key.ok) return { rejected: key.reason }
    if (!(await verifyRecord(dec.value, key.value))) return { rejected: 'record signature is not the node’s' }
    const m = await this.policy.membership(r.peerId, r.claim, now)
    if (!m.ok) return { rejected: `not a member: ${m.reason}` }
    if (r.seq <= (this.seqs.get(r.peerId) ?? -1)) return 'stale'
    this.seqs.set(r.peerId, r.seq)
    const prev = this.nodes.get(r.peerId)
    this.nodes.set(r.peerId, { record: r, bytes, receivedAt: now, membership: m.value })
    if (
      prev == null ||
      prev.record.name !== r.name ||
      prev.record.ip !== r.ip ||
      !sameAddrs(prev.record, r)
    ) {
      this.log.debug('node record changed', { peer: r.peerId, name: r.name, ip: r.ip })
    }
    this.emit('change')
    return 'accepted'
  }

  /** Re-decides every stored member after a policy change; drops those no longer members. */
  async revalidate(now = Date.now()): Promise<string[]> {
    const dropped: string[] = []
    for (const [peerId, n] of this.nodes) {
      const m = await this.policy.membership(peerId, n.record.claim, now)
      if (m.ok) {
        n.membership = m.value
      } else {
        this.nodes.delete(peerId)
        dropped.push(peerId)
        this.log.info('member dropped', { peer: peerId, reason: m.reason })
      }
    }
    this.emit('change')
    return dropped
  }

  remove(peerId: string): void {
    if (this.nodes.delete(peerId)) this.emit('change')
  }
}

function sameAddrs(a: NodeRecord, b: NodeRecord): boolean {
  return a.addrs.length === b.addrs.length && a.addrs.every((x, i) => x === b.addrs[i])
}

/**
 * Final, unique DNS-label names. Hostnames are normalised (lowercase; letters, digits, hyphens;
 * ≤ 63); when several members want the same name, the smallest peer id keeps it and each other one
 * gets `name-<last 6 chars of its peer id, lowercased>`, so every node settles duplicates the same
 * way.
 */
export function uniqueNames(wanted: Array<{ peerId: string; name: string }>): Map<string, string> {
  const sorted = [...wanted].sort((a, b) => (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0))
  const taken = new Set<string>()
  const out = new Map<string, string>()
  for (const { peerId, name } of sorted) {
    let n = normaliseName(name)
    if (taken.has(n)) {
      const suffix = peerId
        .slice(-6)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '0')
      n = `${n.slice(0, 63 - 7)}-${suffix}`
    }
    taken.add(n)
    out.set(peerId, n)
  }
  return out
}

export function normaliseName(name: string): string {
  const n = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '')
  return n === '' ? 'node' : n
}
