/**
 * The topology service (a js-libp2p service): who is in the network and how to reach them.
 * Signed node records and owner-signed policies travel on gossip (validated once, on arrival) and
 * on the sync protocol (newcomers, digest anti-entropy); bootstrap addresses are dialled until a
 * member answers; our own record is signed and republished. Only peers the membership gate
 * admitted reach any of it: the sync handler is gated and gossip from others is never read.
 */

import { EventEmitter } from 'node:events'
import type { GossipSub } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { Connection, PeerId, PeerStore, PrivateKey, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { adminEpoch, encodeRecord, type NodeRecord, type Policy } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import {
  ANTI_ENTROPY_MAX_MS,
  ANTI_ENTROPY_MS,
  BOOTSTRAP_DIAL_TIMEOUT_MS,
  BOOTSTRAP_RETRY_MS,
  MAX_POLICY_PUSH_PEERS,
  MAX_REFUSED_RECORDS_PER_SYNC,
  POLICY_TOPIC,
  RECORD_CHECK_MS,
  RECORD_EXPIRE_SWEEP_MS,
  RECORD_REFRESH_MS,
  RECORDS_TOPIC,
  SYNC_PROTOCOL,
} from '../constants.ts'
import { keepaliveOf } from '../keepalive.ts'
import type { Logger } from '../logger.ts'
import type { MembershipService } from '../membership/service.ts'
import { peerIdOf } from '../peer-ids.ts'
import { Ticker } from '../ticker.ts'
import { checkOnInterfaceChange } from './interface-watch.ts'
import { type KnownNode, RecordStore } from './records.ts'
import { StoredAddrs } from './stored-addrs.ts'
import { SYNC_TIMEOUT_MS, type SyncResponse, syncClient, syncServer } from './sync.ts'

/** Per-member maps here (pullBack, storedAddrs) are cleared past this size: more than any
 * network's members, and clearing one only costs a repeat. */
const MAX_MEMBER_ENTRIES = 4096

/** What our record says besides identity and membership: filled in by the node's other parts. */
export type RecordFields = Pick<
  NodeRecord,
  | 'name'
  | 'ip'
  | 'counter'
  | 'addrs'
  | 'links'
  | 'relays'
  | 'relay'
  | 'observed'
  | 'routes'
  | 'exitNode'
  | 'version'
>

export interface TopologyInit {
  privateKey: PrivateKey
  networkId: string
  /** Multiaddrs (with /p2p/) of members to contact first. */
  bootstrap: string[]
  /** Records seen before a restart, offered again at start (validated like any other). */
  knownRecords: Uint8Array[]
  /** Our record's content now; null while we have no address. */
  describe(): RecordFields | null
  /**
   * Runs the periodic upkeep in the node's heartbeat (ticker.ts). @default a ticker of its own,
   * on its own timer
   */
  ticker?: Ticker
  log: Logger
}

export interface TopologyComponents {
  membership: MembershipService
  pubsub: GossipSub
  identify: Identify
  connectionManager: ConnectionManager
  peerStore: PeerStore
}

export interface TopologyEvents {
  /** Records or memberships changed: addresses, names and filters must be recomputed. */
  change: []
  /** These peers are no longer members (revoked, expired, forgotten). */
  dropped: [peerIds: string[]]
}

export class TopologyService extends EventEmitter<TopologyEvents> {
  readonly records: RecordStore
  private readonly init: TopologyInit
  private readonly c: TopologyComponents
  private readonly timers: Array<() => void> = []
  private lastSeq = 0
  private lastRecord: Uint8Array | null = null
  /** What our last published record said (recordContent) and when we published it. */
  private lastContent: string | null = null
  private lastPublishedAt = 0
  private running = false
  /** When we last pulled a newer policy back from each member (pullBack). */
  private readonly pulledBack = new Map<string, { at: number; claim: string }>()
  /** The next anti-entropy round's delay: ANTI_ENTROPY_MS, doubled after each round that brought
   * nothing, up to ANTI_ENTROPY_MAX_MS; back to ANTI_ENTROPY_MS when a round or a new peer did. */
  private antiEntropyMs = ANTI_ENTROPY_MS
  /** The pending round (null while one runs) and when it is due. */
  private antiEntropyTimer: NodeJS.Timeout | null = null
  private antiEntropyDue = 0
  /** Members' addresses in libp2p's peer store; an entry goes with the member (forget, expelled). */
  private readonly storedAddrs: StoredAddrs

  constructor(init: TopologyInit, components: TopologyComponents) {
    super()
    this.init = init
    this.c = components
    const m = components.membership
    this.records = new RecordStore(m.selfId, m.store, init.log.child('records'))
    this.storedAddrs = new StoredAddrs(components.peerStore, init.log, MAX_MEMBER_ENTRIES)
    this.records.on('change', () => this.emit('change'))
    m.on('policy', () => {
      void this.revalidate()
      // a new version usually binds a newcomer: its record is at the owner by now, and a member
      // the gossip mesh does not reach directly (a spoke of a hub) pulls it at the next round
      this.antiEntropySoon()
    })
    m.on('expiry', () => void this.revalidate())
    m.on('signed', (envelope) => void this.publishPolicy(envelope))
    m.gate.on('ready', (peer, conn) => this.onReady(peer, conn))
    m.gate.on('expelled', (peer) => {
      this.records.remove(peer)
      this.storedAddrs.forget(peer)
    })
  }

  async start(): Promise<void> {
    const m = this.c.membership
    await m.gate.handle(SYNC_PROTOCOL, (s, c) => this.onSyncStream(s, c), {
      runOnLimitedConnection: true,
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    })
    const validate =
      (offer: (b: Uint8Array) => Promise<'accepted' | 'stale' | { rejected: string }>) =>
      async (_peer: PeerId, msg: { data: Uint8Array }): Promise<TopicValidatorResult> => {
        const r = await offer(msg.data)
        if (r === 'accepted') return TopicValidatorResult.Accept
        if (r === 'stale') return TopicValidatorResult.Ignore
        this.init.log.debug('gossip refused', { reason: r.rejected })
        return TopicValidatorResult.Reject
      }
    this.c.pubsub.topicValidators.set(
      RECORDS_TOPIC,
      validate((b) => this.records.offer(b)),
    )
    this.c.pubsub.topicValidators.set(
      POLICY_TOPIC,
      validate((b) => m.store.offer(b)),
    )
    for (const rec of this.init.knownRecords) await this.records.offer(rec).catch(() => {})
  }

  async afterStart(): Promise<void> {
    this.running = true
    this.c.pubsub.subscribe(RECORDS_TOPIC)
    this.c.pubsub.subscribe(POLICY_TOPIC)
    void this.bootstrap()
    const ticker = this.init.ticker ?? new Ticker()
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      this.timers.push(ticker.every(ms, () => void fn().catch(() => {})))
    }
    every(RECORD_CHECK_MS, () => this.refreshRecord())
    // an interface address that came or went is in our record within a second (interface-watch.ts)
    this.timers.push(checkOnInterfaceChange(() => this.publishIfChanged().catch(() => {})))
    this.scheduleAntiEntropy()
    every(BOOTSTRAP_RETRY_MS, () => this.bootstrap())
    every(RECORD_EXPIRE_SWEEP_MS, async () => this.forget(this.records.expire()))
  }

  stop(): void {
    this.running = false
    for (const cancel of this.timers) cancel()
    this.timers.length = 0
    if (this.antiEntropyTimer != null) clearTimeout(this.antiEntropyTimer)
    this.antiEntropyTimer = null
  }

  get(peerId: string): KnownNode | undefined {
    return this.records.get(peerId)
  }

  all(): KnownNode[] {
    return this.records.all()
  }

  /**
   * Whether a member is there: with an open connection, whether its keepalive answers (keepalive.ts:
   * a peer gone silent is offline within KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS); without one, whether
   * its record was refreshed within RECORD_OFFLINE_MS.
   */
  isOnline(n: KnownNode): boolean {
    const conns = this.c.connectionManager
      .getConnections(peerIdOf(n.record.peerId))
      .filter((c) => c.status === 'open')
    if (conns.length === 0) return this.records.isOnline(n)
    return conns.some((c) => keepaliveOf(c)?.answering ?? true)
  }

  /**
   * When we last had evidence of the member (ms since the epoch): now while an open connection's
   * keepalive answers, else the time its newest record was signed; null for one we do not know.
   */
  lastSeen(n: KnownNode, now = Date.now()): number {
    const conns = this.c.connectionManager
      .getConnections(peerIdOf(n.record.peerId))
      .filter((c) => c.status === 'open')
    return conns.some((c) => keepaliveOf(c)?.answering ?? true) ? now : n.record.ts
  }

  /** Our newest signed record, if we have one. */
  get ownRecord(): Uint8Array | null {
    return this.lastRecord
  }

  /**
   * Gossips our record when what it says changed since we last published it; the callers are the
   * events that may change it (addresses, relays, observations, routes).
   */
  async publishIfChanged(): Promise<void> {
    const fields = this.init.describe()
    if (fields != null && this.recordContent(fields) !== this.lastContent) await this.publishRecord(fields)
  }

  /** RECORD_CHECK_MS: a change no event announced goes out now, an unchanged record every RECORD_REFRESH_MS. */
  private async refreshRecord(): Promise<void> {
    if (Date.now() - this.lastPublishedAt >= RECORD_REFRESH_MS) await this.publishRecord()
    else await this.publishIfChanged()
  }

  private recordContent(fields: RecordFields): string {
    return JSON.stringify({ ...fields, claim: this.c.membership.claim })
  }

  /** Signs and gossips our node record now (needs a policy and an address). */
  async publishRecord(described?: RecordFields): Promise<void> {
    const fields = described ?? this.init.describe()
    const m = this.c.membership
    if (!this.running || fields == null || m.store.policy == null) return
    const now = Date.now()
    this.lastSeq = Math.max(now, this.lastSeq + 1)
    const record: NodeRecord = {
      type: 'record',
      v: 1,
      networkId: this.init.networkId,
      peerId: m.selfId,
      seq: this.lastSeq,
      ts: now,
      claim: m.claim,
      policyVersion: m.store.version,
      ...fields,
    }
    this.lastRecord = await encodeRecord(record, this.init.privateKey)
    this.lastContent = this.recordContent(fields)
    this.lastPublishedAt = now
    await this.c.pubsub.publish(RECORDS_TOPIC, this.lastRecord).catch((err: Error) => {
      this.init.log.debug('record publish', { error: err.message })
    })
  }

  /**
   * Gossips a policy we signed (flood publish reaches every subscribed peer at once) and pushes it
   * by sync to admitted peers gossip does not reach yet (just connected, subscription not seen), so
   * nobody waits for a heartbeat — without a sync round per peer per version when gossip works.
   */
  /**
   * A policy version signed elsewhere — an owner key restored onto this member node (daemon
   * owner-restore.ts) — taken and published exactly like one this node's signer made, so members
   * get it over the connections and gossip mesh they already have.
   */
  async announcePolicy(envelope: Uint8Array): Promise<'accepted' | 'stale' | { rejected: string }> {
    const r = await this.c.membership.store.offer(envelope)
    if (r === 'accepted') await this.publishPolicy(envelope)
    return r
  }

  private async publishPolicy(envelope: Uint8Array): Promise<void> {
    await this.c.pubsub.publish(POLICY_TOPIC, envelope).catch((err: Error) => {
      this.init.log.debug('policy publish', { error: err.message })
    })
    // members gossip does not reach get it by sync: the admitted ones, then members we have a record
    // of, dialled (a delegated admin's version after the owner, the hub, is gone; bounded)
    const gossiped = new Set(this.c.pubsub.getSubscribers(POLICY_TOPIC).map(String))
    const store = this.c.membership.store
    const targets = new Set(this.c.membership.gate.admittedPeers())
    for (const n of this.records.all()) {
      if (targets.size >= MAX_POLICY_PUSH_PEERS) break
      if (!store.isRevokedNode(n.record.peerId)) targets.add(n.record.peerId)
    }
    targets.delete(this.c.membership.selfId)
    for (const peer of targets) {
      if (!gossiped.has(peer)) void this.syncWith(peerIdOf(peer)).catch(() => {})
    }
  }

  private async revalidate(): Promise<void> {
    const dropped = await this.records.revalidate()
    this.forget(dropped)
  }

  private forget(peers: string[]): void {
    if (peers.length === 0) return
    for (const p of peers) {
      this.c.membership.gate.expel(p, 'no longer a member') // emits 'expelled' only if admitted
      this.storedAddrs.forget(p)
    }
    this.emit('dropped', peers)
  }

  private onReady(peer: string, conn: Connection): void {
    // a new member may hold records gossip has not brought us yet (and miss ours): fast rounds
    this.antiEntropySoon()
    if (conn.direction !== 'outbound') return
    // the dialler pulls what it missed, and tells gossipsub (via identify) what the peer speaks —
    // only once the peer is admitted: a newcomer's bootstrap peer is merely pending until the
    // policy proves it a member (then the gate says 'ready' again)
    void this.syncWith(conn.remotePeer).catch((err: Error) => {
      this.init.log.debug('sync failed', { peer, error: err.message })
    })
    if (this.c.membership.gate.isAdmitted(peer)) void this.c.identify.identify(conn).catch(() => {})
  }

  private async bootstrap(): Promise<void> {
    const m = this.c.membership
    for (const addr of this.init.bootstrap) {
      let ma: ReturnType<typeof multiaddr>
      try {
        ma = multiaddr(addr)
      } catch {
        this.init.log.warn('bad bootstrap address', { addr })
        continue
      }
      const id = ma.getComponents().find((c) => c.name === 'p2p')?.value
      if (id == null || id === m.selfId) continue
      if (this.c.connectionManager.getConnections(peerIdOf(id)).length > 0) continue
      await this.c.connectionManager
        .openConnection(ma, { signal: AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS) })
        .catch((err: Error) => {
          this.init.log.debug('bootstrap dial failed', { addr, error: err.message })
        })
    }
  }

  private scheduleAntiEntropy(): void {
    if (!this.running) return
    this.antiEntropyDue = Date.now() + this.antiEntropyMs
    this.antiEntropyTimer = setTimeout(() => {
      this.antiEntropyTimer = null
      void this.antiEntropy().finally(() => this.scheduleAntiEntropy())
    }, this.antiEntropyMs)
  }

  /** The next rounds run at the fast pace again; a round pending further ahead is brought forward. */
  private antiEntropySoon(): void {
    this.antiEntropyMs = ANTI_ENTROPY_MS
    if (this.antiEntropyTimer != null && this.antiEntropyDue - Date.now() > ANTI_ENTROPY_MS) {
      clearTimeout(this.antiEntropyTimer)
      this.scheduleAntiEntropy()
    }
  }

  /**
   * Pulls records we missed on gossip from one random admitted member. An idle network's rounds
   * bring nothing, so each empty round doubles the delay to the next (issue 14: a round costs a
   * digest of every record we hold).
   */
  private async antiEntropy(): Promise<void> {
    const peers = this.c.membership.gate.admittedPeers()
    if (peers.length === 0) return
    const pick = peers[Math.floor(Math.random() * peers.length)]
    const news = await this.syncWith(peerIdOf(pick)).catch((err: Error) => {
      this.init.log.debug('anti-entropy sync failed', { peer: pick, error: err.message })
      return 0
    })
    this.antiEntropyMs = news > 0 ? ANTI_ENTROPY_MS : Math.min(this.antiEntropyMs * 2, ANTI_ENTROPY_MAX_MS)
  }

  /**
   * Syncs back with a member that says it holds a newer policy, at most once per ANTI_ENTROPY_MS
   * per member: a member repeating the claim gets one exchange from us per interval, not one per
   * request (the claim costs it nothing; our pull costs a stream and a policy check).
   */
  private pullBack(peer: PeerId, claims: readonly [epoch: number, version: number]): void {
    const key = peer.toString()
    const now = Date.now()
    // once per peer and ANTI_ENTROPY_MS for the same claimed (epoch, version); a newer claim at once
    // (a version it just signed), which costs the peer a sign or a lie we see through
    const claim = claims.join('/')
    const last = this.pulledBack.get(key)
    if (last != null && last.claim === claim && now - last.at < ANTI_ENTROPY_MS) return
    if (this.pulledBack.size >= MAX_MEMBER_ENTRIES) this.pulledBack.clear() // bounded; forgetting is safe
    this.pulledBack.set(key, { at: now, claim })
    setImmediate(() => void this.syncWith(peer).catch(() => {}))
  }

  /** One sync exchange with `peer`; resolves with how many records and policies it brought. */
  async syncWith(peer: PeerId): Promise<number> {
    const store = this.c.membership.store
    const stream = await this.c.connectionManager.openStream(peer, SYNC_PROTOCOL, {
      runOnLimitedConnection: true,
      signal: AbortSignal.timeout(SYNC_TIMEOUT_MS),
    })
    const res = await syncClient(stream, {
      record: this.lastRecord,
      have: Object.fromEntries(this.records.all().map((n) => [n.record.peerId, n.record.seq])),
      // the policy is most of an answer's bytes: the server leaves it out when we hold its version
      ...(store.policy == null
        ? {}
        : { policyVersion: store.version, policyEpoch: adminEpoch(store.policy) }),
    })
    if (!res.ok) {
      this.init.log.warn('sync refused', { peer: peer.toString(), reason: res.reason })
      return 0
    }
    let news = 0
    if (res.policy != null) {
      const p = await store.offer(res.policy)
      if (typeof p === 'object') {
        // a peer that hands us a forged policy gets nothing else of its answer read
        this.init.log.warn('synced policy refused', { peer: peer.toString(), reason: p.rejected })
        return 0
      }
      if (p === 'accepted') news++
    }
    let refused = 0
    for (const r of res.records) {
      const offered = await this.records.offer(r)
      if (offered === 'accepted') news++
      if (typeof offered !== 'object') continue
      // honest answers hold few refusals (a record that raced a revocation); a flood costs us no more
      if (++refused >= MAX_REFUSED_RECORDS_PER_SYNC) {
        this.init.log.warn('sync answer full of refused records: stopped reading it', {
          peer: peer.toString(),
        })
        break
      }
    }
    if (this.lastRecord == null) await this.publishRecord().catch(() => {})
    return news
  }

  private async onSyncStream(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    try {
      await syncServer(stream, async (req): Promise<SyncResponse> => {
        if (req == null) return { ok: false, reason: 'malformed sync request' }
        const policy = this.c.membership.store.envelope
        if (policy == null) return { ok: false, reason: 'this node has no policy yet' }
        if (req.record != null) {
          const r = await this.records.offer(req.record)
          if (typeof r === 'object')
            this.init.log.debug('synced record refused', { peer, reason: r.rejected })
        }
        const have = req.have ?? {}
        const store = this.c.membership.store
        // (epoch, version) order, as the store's (an older node sends no epoch: 0)
        const mine = [adminEpoch(store.policy as Policy), store.version] as const
        const theirs = [req.policyEpoch ?? 0, req.policyVersion ?? -1] as const
        const cmp = theirs[0] !== mine[0] ? theirs[0] - mine[0] : theirs[1] - mine[1]
        const holds = req.policyVersion != null && cmp >= 0
        const records = this.records
          .all()
          .filter((n) => n.record.peerId !== peer && (have[n.record.peerId] ?? -1) < n.record.seq)
          .map((n) => n.bytes)
        const self = this.c.membership.selfId
        if (this.lastRecord != null && (have[self] ?? -1) < this.lastSeq) records.push(this.lastRecord)
        // the client holds a newer policy than we do (it says so; its envelope proves it or not):
        // pull it back now. This is what makes publishPolicy's sync to peers gossip does not reach
        // yet deliver the version, and a restored owner's just-restarted node reach its members.
        if (req.policyVersion != null && cmp > 0) this.pullBack(conn.remotePeer, theirs)
        return { ok: true, policy: holds ? null : policy, records }
      })
    } catch (err) {
      this.init.log.debug('sync stream failed', { peer, error: (err as Error).message })
      stream.abort(err as Error)
    }
  }

  /** Teaches libp2p's peer store the addresses a member's record announces (when they changed). */
  rememberAddrs(r: NodeRecord, now = Date.now()): Promise<void> {
    return this.storedAddrs.remember(r, now)
  }
}

/** The libp2p service factory: `services: { topology: topology(init) }`. */
export function topology(init: TopologyInit): (components: TopologyComponents) => TopologyService {
  return (components) => new TopologyService(init, components)
}
