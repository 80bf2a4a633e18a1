/**
 * The record store: the signed node records of the network's members, as gossiped.
 *
 * A record is checked once, when it arrives (gossip validator or sync): size and schema, network,
 * the node's own signature, a timestamp neither ahead of our clock (MAX_CLOCK_SKEW_MS) nor older
 * than MAX_RECORD_AGE_MS, a sequence number above the last one we hold, and a
 * membership claim valid under the current policy. Only then is it stored and forwarded. When the
 * policy changes or a key expires, every stored record's membership is decided again. The store is
 * bounded: members the owner has not bound yet are capped per key (MAX_UNBOUND_PER_KEY), bound
 * ones by the policy itself, and records not refreshed for RECORD_EXPIRE_MS are forgotten.
 */
import { EventEmitter } from 'node:events'
import {
  decodeClaimString,
  decodeRecord,
  MAX_POLICY_MEMBERS,
  type NodeRecord,
  publicKeyFromPeerId,
  verifyRecord,
} from '@meshlan/wire'
import {
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_AGE_MS,
  MAX_UNBOUND_PER_KEY,
  RECORD_EXPIRE_MS,
  RECORD_OFFLINE_MS,
} from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { Membership, PolicyStore } from '../membership/policy-store.ts'

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

export class RecordStore extends EventEmitter<TopologyEvents> {
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
    if (r.ts - now > MAX_CLOCK_SKEW_MS) return { rejected: 'record timestamp ahead of our clock' }
    // an honest node hands on, by sync, records up to RECORD_REFRESH_MS old and older ones of members
    // that went away: stale, not an offence; older than anyone keeps a record, no news either
    if (now - r.ts > MAX_RECORD_AGE_MS) return 'stale'
    const last = this.seqs.get(r.peerId) ?? -1
    if (r.seq <= last) return 'stale'
    // the cheap refusal first: a new unbound member of a key at its cap costs no signature check
    if (!this.nodes.has(r.peerId) && this.policy.binding(r.peerId) == null && r.claim != null) {
      const claimed = decodeClaimString(r.claim)
      if (claimed.ok && this.unboundOf(claimed.value.body.keyName) >= MAX_UNBOUND_PER_KEY) {
        return {
          rejected: `key ${claimed.value.body.keyName} already has ${MAX_UNBOUND_PER_KEY} members the owner has not admitted yet`,
        }
      }
    }
    const key = publicKeyFromPeerId(r.peerId)
    if (!key.ok) return { rejected: key.reason }
    if (!(await verifyRecord(dec.value, key.value))) return { rejected: 'record signature is not the node’s' }
    const m = await this.policy.membership(r.peerId, r.claim, now)
    if (!m.ok) return { rejected: `not a member: ${m.reason}` }
    if (r.seq <= (this.seqs.get(r.peerId) ?? -1)) return 'stale'
    if (!this.nodes.has(r.peerId)) {
      const full = this.admits(m.value)
      if (full != null) return { rejected: full }
    }
    if (this.seqs.size >= MAX_SEQS) this.seqs.delete(this.seqs.keys().next().value as string)
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
    // a refresh that says what the last record said changes nothing to recompute (issue 14: every
    // refresh used to cost each node a peer-table recompute and the daemon a records-file write)
    if (prev == null || contentOf(prev.record) !== contentOf(r)) this.emit('change')
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

  /** Forgets records not refreshed for RECORD_EXPIRE_MS; returns the peers forgotten. */
  expire(now = Date.now()): string[] {
    const gone: string[] = []
    for (const [peerId, n] of this.nodes) {
      if (now - n.receivedAt > RECORD_EXPIRE_MS) {
        this.nodes.delete(peerId)
        gone.push(peerId)
      }
    }
    if (gone.length > 0) this.emit('change')
    return gone
  }

  private unboundOf(keyName: string): number {
    let n = 0
    for (const k of this.nodes.values())
      if (k.membership.binding == null && k.membership.keyName === keyName) n++
    return n
  }

  /** Null when a new member's record fits; else why not. */
  private admits(m: Membership): string | null {
    if (m.binding != null) return this.nodes.size >= MAX_RECORDS ? 'record store is full' : null
    let unbound = 0
    for (const n of this.nodes.values())
      if (n.membership.binding == null && n.membership.keyName === m.keyName) unbound++
    if (unbound >= MAX_UNBOUND_PER_KEY) {
      return `key ${m.keyName} already has ${MAX_UNBOUND_PER_KEY} members the owner has not admitted yet`
    }
    return this.nodes.size >= MAX_RECORDS ? 'record store is full' : null
  }
}

/** Records held at most: every bound member plus a margin of unbound ones. */
const MAX_RECORDS = MAX_POLICY_MEMBERS + 256
/** Sequence numbers remembered (so replays of dropped records stay stale). */
const MAX_SEQS = 4 * MAX_RECORDS

/** What a record says, without what every refresh changes (seq, ts, the policy version it saw). */
function contentOf(r: NodeRecord): string {
  return JSON.stringify({ ...r, seq: 0, ts: 0, policyVersion: 0 })
}

function sameAddrs(a: NodeRecord, b: NodeRecord): boolean {
  return a.addrs.length === b.addrs.length && a.addrs.every((x, i) => x === b.addrs[i])
}
