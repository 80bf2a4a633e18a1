/**
 * The mesh node: everything a member does, composed from small parts.
 *
 *   transport (libp2p) ── gossip ──▶ policy store ─┐
 *                      ── gossip ──▶ topology ─────┼─▶ recompute(): addresses, names, ACL filters
 *                      ── sync ────▶ both          │       │
 *                      ◀─ tunnel streams ─▶ pump ◀─┘───────┘
 *
 * `recompute()` is the one place where policy and topology become routes and filters; it runs
 * (debounced) after every accepted policy or record change, so a revocation reaches the packet
 * path within one debounce interval of the policy arriving.
 */
import { EventEmitter } from 'node:events'
import type { Connection, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { dialFromPort } from '@meshlan/tun'
import {
  encodeRecord,
  ipToUint32,
  type Link,
  type NodeRecord,
  type Policy,
  parseCidr,
  uint32ToIp,
} from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import {
  type CompiledAcl,
  compileAcl,
  createConntrack,
  createPacketFilter,
  denyAllAcl,
  mayOpenStream,
  type PacketFilter,
  validateAcl,
} from './acl/index.ts'
import { assignAddresses } from './addressing.ts'
import {
  ANTI_ENTROPY_MS,
  DIRECT_WATCH_MS,
  DIRECT_WATCH_TIMEOUT_MS,
  KEEPALIVE_MS,
  MEMBERSHIP_GRACE_MS,
  NAT_PROBE_MS,
  policyTopic,
  RECORD_REPUBLISH_MS,
  RELAY_MAINTAIN_MS,
  recordsTopic,
  SYNC_PROTOCOL,
  TUNNEL_PROTOCOL,
} from './constants.ts'
import { candidateAddrs, HolePuncher, type PunchResult } from './holepunch.ts'
import { createLogger, type Logger } from './logger.ts'
import { markKeyClaimed } from './network.ts'
import { type DirectFailure, isRelayed, Paths, pingConnection } from './paths.ts'
import { type Membership, PolicyStore } from './policy-store.ts'
import { type PacketDevice, Pump, refuseStream } from './pump.ts'
import { socketToConnection } from './socket-conn.ts'
import { type SyncResponse, syncClient, syncServer } from './sync.ts'
import { Topology, uniqueNames } from './topology.ts'
import { createTransport, type Internals, type MeshLibp2p } from './transport.ts'

export interface MeshNodeInit {
  privateKey: PrivateKey
  networkId: string
  /** Peer id of the network owner: the only key whose policies we accept. */
  owner: string
  /** Wanted node name (normalised and made unique across the network). */
  name: string
  /** The newest policy envelope we hold (always, on the owner). */
  policy?: Uint8Array | null
  /** Our membership claim (base64 envelope); null on the owner. */
  claim?: string | null
  /** Multiaddrs of members to contact first (with /p2p/ ids). */
  bootstrap?: string[]
  /** @default ['/ip4/0.0.0.0/tcp/7946'] */
  listen?: string[]
  announce?: string[]
  /** @default 'tcp' */
  transport?: 'tcp' | 'memory'
  /** The packet device; omit for a control-plane-only node (tests). */
  device?: PacketDevice | null
  /** Records seen before a restart, offered again at start (validated like any other). */
  knownRecords?: Uint8Array[]
  /**
   * Run a member relay (circuit relay v2 without default limits, members only).
   * @default false
   */
  relay?: boolean
  /**
   * Hold reservations on up to two member relays (chosen by RTT) and announce them.
   * @default true unless this node is a relay
   */
  relayClient?: boolean
  /** Debounce of recompute after a change. @default 50 */
  recomputeDebounceMs?: number
  log?: Logger
}

export interface PeerStatus {
  name: string
  ip: string
  peerId: string
  path: 'direct' | 'relay' | 'none'
  rttMs: number | null
  rxBytes: number
  txBytes: number
  key: string
  online: boolean
  /** When the path is a relay: the relay's name (or peer id). */
  via: string | null
  /** When not direct: why (symmetric-nat, punch-failed, no-relay, not-tried). */
  why: DirectFailure
}

export interface NodeStatus {
  self: {
    name: string
    ip: string | null
    peerId: string
    network: { id: string; name: string | null; subnet: string | null; owner: string; policyVersion: number }
    key: string | null
    member: boolean
    reason: string | null
  }
  peers: PeerStatus[]
  drops: Record<string, number>
}

export type PingResult =
  | {
      ok: true
      peerId: string
      name: string
      ip: string
      path: 'direct' | 'relay'
      rttMs: number[]
      via: string | null
      why: DirectFailure
    }
  | { ok: false; code: 'NO_ROUTE' | 'ACL' | 'OFFLINE' | 'NOT_MEMBER'; reason: string; peerId?: string }

export interface MeshNodeEvents {
  address: [ip: string, prefix: number]
  policy: [policy: Policy, envelope: Uint8Array]
  records: []
}

interface PeerState {
  peerId: string
  ip: number
  name: string
  membership: Membership
  filter: PacketFilter | null
}

export class MeshNode extends EventEmitter<MeshNodeEvents> {
  readonly peerId: string
  readonly networkId: string
  readonly policyStore: PolicyStore
  readonly topology: Topology
  private readonly init: MeshNodeInit
  private readonly log: Logger
  private libp2p!: MeshLibp2p
  private paths!: Paths
  private relayTimer: NodeJS.Timeout | null = null
  private puncher!: HolePuncher
  /** Public IPs members observed for us. */
  private readonly observedIps = new Set<string>()
  /** Result of the last NAT probe: the mapping a member saw for a dial from our listening port. */
  private nat: { mapped: string | null; preservesPort: boolean | null; checkedAt: number } = {
    mapped: null,
    preservesPort: null,
    checkedAt: 0,
  }
  private readonly punchBackoff = new Map<string, { attempts: number; next: number }>()
  private readonly directMisses = new Map<string, number>()
  private pump: Pump | null = null
  private readonly conntrack = createConntrack()
  private readonly peers = new Map<string, PeerState>()
  private readonly byName = new Map<string, string>()
  private readonly rtts = new Map<string, number>()
  private readonly timers: NodeJS.Timeout[] = []
  private recomputeTimer: NodeJS.Timeout | null = null
  private recomputing: Promise<void> | null = null
  private recomputeAgain = false
  private selfIp = 0
  private selfCounter = 0
  private selfName: string
  private selfMembership: Membership | null = null
  private selfReason: string | null = 'no policy yet'
  private lastSeq = 0
  private lastRecord: Uint8Array | null = null
  private running = false

  constructor(init: MeshNodeInit) {
    super()
    this.init = init
    this.networkId = init.networkId
    this.log = init.log ?? createLogger('mesh')
    this.peerId = peerIdFromPrivateKey(init.privateKey).toString()
    this.selfName = init.name
    this.policyStore = new PolicyStore(init.networkId, init.owner, this.log.child('policy'))
    this.topology = new Topology(this.peerId, this.policyStore, this.log.child('topology'))
  }

  get libp2pNode(): MeshLibp2p {
    return this.libp2p
  }

  get address(): string | null {
    return this.selfIp === 0 ? null : uint32ToIp(this.selfIp)
  }

  get name(): string {
    return this.selfName
  }

  async start(): Promise<void> {
    const revoked = (peer: PeerId): boolean => this.policyStore.isRevokedNode(peer.toString())
    this.libp2p = await createTransport({
      privateKey: this.init.privateKey,
      networkId: this.networkId,
      listen: this.init.listen ?? ['/ip4/0.0.0.0/tcp/7946'],
      announce: this.init.announce,
      transport: this.init.transport,
      gater: {
        deny: revoked,
        isMember: (peer) => this.isMember(peer.toString()),
        underlay: (addr) => this.underlay(addr),
      },
      relayServer: this.init.relay === true,
    })
    const lp = this.libp2p
    this.paths = new Paths({
      libp2p: lp,
      log: this.log.child('paths'),
      record: (id) => this.topology.get(id)?.record,
      relayCandidates: () =>
        this.topology
          .all()
          .filter((n) => n.record.relay === true && this.topology.isOnline(n))
          .map((n) => n.record.peerId),
      holdReservations: this.init.relayClient ?? this.init.relay !== true,
      underlay: (addr) => this.underlay(addr),
      sharesNat: (id) => {
        const rec = this.topology.get(id)?.record
        const theirs = (rec?.observed ?? []).map((o) => /^\/ip4\/([\d.]+)\//.exec(o)?.[1])
        return theirs.some((ip) => ip != null && this.observedIps.has(ip))
      },
    })
    this.puncher = new HolePuncher({
      libp2p: lp,
      log: this.log.child('holepunch'),
      selfId: this.peerId,
      listenPort: () => this.listenPort(),
      candidates: () => {
        const port = this.listenPort()
        return port == null ? [] : candidateAddrs([...this.observedIps], this.lanIps(), port)
      },
      observedIps: () => [...this.observedIps],
      isMember: (id) => this.isMember(id),
      underlay: (ip) => this.underlay(ip),
      onResult: (peer, r) => this.onPunchResult(peer, r),
    })
    await this.puncher.start()
    if (this.init.device != null) {
      this.pump = new Pump(
        { log: this.log.child('pump') },
        {
          device: this.init.device,
          openStream: (peerId) => this.paths.openTunnel(peerId),
        },
      )
    }

    this.policyStore.on('change', (policy) => {
      const env = this.policyStore.envelope
      if (env != null) this.emit('policy', policy, env)
      void this.topology.revalidate().then((dropped) => {
        for (const p of dropped) void this.disconnect(p, 'no longer a member')
      })
      this.scheduleRecompute()
    })
    this.topology.on('change', () => {
      this.emit('records')
      this.scheduleRecompute()
      // a relay appeared and we hold no reservation yet: don't wait for the next tick
      if (this.running && this.paths.circuitAddrs().length === 0 && this.relayTimer == null) {
        this.relayTimer = setTimeout(() => {
          this.relayTimer = null
          void this.maintainRelays()
        }, 200)
      }
    })

    if (this.init.policy != null) {
      const r = await this.policyStore.offer(this.init.policy)
      if (typeof r === 'object') this.log.warn('stored policy refused', { reason: r.rejected })
    }
    for (const rec of this.init.knownRecords ?? []) await this.topology.offer(rec).catch(() => {})

    await lp.handle(TUNNEL_PROTOCOL, (stream, conn) => this.onTunnelStream(stream, conn), {
      runOnLimitedConnection: true,
      maxInboundStreams: 8,
      maxOutboundStreams: 8,
    })
    await lp.handle(SYNC_PROTOCOL, (stream, conn) => this.onSyncStream(stream, conn), {
      runOnLimitedConnection: true,
      maxInboundStreams: 8,
      maxOutboundStreams: 8,
    })

    const pubsub = lp.services.pubsub
    pubsub.topicValidators.set(
      recordsTopic(this.networkId),
      async (_peer: PeerId, msg: { data: Uint8Array }) => {
        const r = await this.topology.offer(msg.data)
        if (r === 'accepted') return 'accept'
        if (r === 'stale') return 'ignore'
        this.log.debug('gossiped record refused', { reason: r.rejected })
        return 'reject'
      },
    )
    pubsub.topicValidators.set(
      policyTopic(this.networkId),
      async (_peer: PeerId, msg: { data: Uint8Array }) => {
        const r = await this.policyStore.offer(msg.data)
        if (r === 'accepted') return 'accept'
        if (r === 'stale') return 'ignore'
        this.log.warn('gossiped policy refused', { reason: r.rejected })
        return 'reject'
      },
    )
    lp.addEventListener('connection:open', (evt) => this.onConnectionOpen(evt.detail))

    await lp.start()
    pubsub.subscribe(recordsTopic(this.networkId))
    pubsub.subscribe(policyTopic(this.networkId))
    this.running = true
    this.pump?.start()
    this.log.info('node started', {
      peer: this.peerId,
      network: this.networkId,
      addrs: lp
        .getMultiaddrs()
        .map((a) => a.toString())
        .join(','),
    })

    await this.recompute()
    await this.bootstrap()
    this.timers.push(setInterval(() => void this.publishRecord().catch(() => {}), RECORD_REPUBLISH_MS))
    this.timers.push(setInterval(() => void this.measureRtts(), KEEPALIVE_MS))
    this.timers.push(setInterval(() => this.conntrack.sweep(Date.now()), 10_000))
    this.timers.push(setInterval(() => void this.bootstrap().catch(() => {}), 15_000))
    this.timers.push(setInterval(() => void this.antiEntropy(), ANTI_ENTROPY_MS))
    this.timers.push(setInterval(() => void this.maintainRelays(), RELAY_MAINTAIN_MS))
    this.timers.push(setInterval(() => void this.probeNat(), NAT_PROBE_MS))
    setTimeout(() => void this.maintainRelays().then(() => this.probeNat()), 300).unref()
    this.timers.push(setInterval(() => void this.watchDirectPaths(), DIRECT_WATCH_MS))
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const t of this.timers) clearInterval(t)
    if (this.recomputeTimer != null) clearTimeout(this.recomputeTimer)
    this.pump?.stop()
    await this.libp2p.stop()
    this.log.info('node stopped')
  }

  /** The owner hands its newly signed policy here: applied locally, then gossiped and pushed. */
  async publishPolicy(envelope: Uint8Array): Promise<void> {
    const r = await this.policyStore.offer(envelope)
    if (typeof r === 'object') throw new Error(`policy refused: ${r.rejected}`)
    await this.libp2p.services.pubsub.publish(policyTopic(this.networkId), envelope).catch((err: Error) => {
      this.log.debug('policy publish', { error: err.message })
    })
    // push to every connected member too, so nobody waits for a gossip heartbeat
    for (const conn of this.libp2p.getConnections()) void this.syncWith(conn.remotePeer).catch(() => {})
  }

  // ---- membership, addresses, filters -----------------------------------------------------------

  private scheduleRecompute(): void {
    if (this.recomputeTimer != null || !this.running) return
    this.recomputeTimer = setTimeout(() => {
      this.recomputeTimer = null
      void this.recompute()
    }, this.init.recomputeDebounceMs ?? 50)
  }

  /** Derives addresses, names and filters from the policy and the records. Serialised. */
  async recompute(): Promise<void> {
    if (this.recomputing != null) {
      this.recomputeAgain = true
      return this.recomputing
    }
    this.recomputing = this.doRecompute().finally(() => {
      this.recomputing = null
    })
    await this.recomputing
    if (this.recomputeAgain) {
      this.recomputeAgain = false
      await this.recompute()
    }
  }

  private async doRecompute(): Promise<void> {
    const policy = this.policyStore.policy
    if (policy == null) return
    const m = await this.policyStore.membership(this.peerId, this.init.claim ?? null)
    this.selfMembership = m.ok ? m.value : null
    this.selfReason = m.ok ? null : m.reason
    const subnet = parseCidr(policy.subnet)
    if (!subnet.ok) return
    const net = { base: subnet.base, prefix: subnet.prefix }
    const nodes = this.topology.all()
    const assignment = assignAddresses(this.networkId, net, [
      this.peerId,
      ...nodes.map((n) => n.record.peerId),
    ])
    const names = uniqueNames([
      { peerId: this.peerId, name: this.init.name },
      ...nodes.map((n) => ({ peerId: n.record.peerId, name: n.record.name })),
    ])
    const mine = assignment.get(this.peerId)
    const oldIp = this.selfIp
    this.selfName = names.get(this.peerId) ?? this.init.name
    if (mine != null && (mine.ip !== this.selfIp || mine.counter !== this.selfCounter)) {
      this.selfIp = mine.ip
      this.selfCounter = mine.counter
      this.pump?.setSelfIp(mine.ip)
      this.log.info('overlay address', { ip: uint32ToIp(mine.ip), counter: mine.counter })
      this.emit('address', uint32ToIp(mine.ip), net.prefix)
    }

    // name → ip and tag → ips for ACL targets
    this.byName.clear()
    this.byName.set(this.selfName, this.peerId)
    const tagIps = new Map<string, number[]>()
    const addTags = (tags: string[], ip: number): void => {
      for (const t of tags) {
        const list = tagIps.get(t) ?? []
        list.push(ip)
        tagIps.set(t, list)
      }
    }
    if (this.selfMembership != null) addTags(this.selfMembership.tags, this.selfIp)
    for (const n of nodes) {
      const a = assignment.get(n.record.peerId)
      if (a == null) continue
      const name = names.get(n.record.peerId) ?? n.record.name
      this.byName.set(name, n.record.peerId)
      addTags(n.membership.tags, a.ip)
    }
    const ctxFor = (keyName: string) => ({
      keyName,
      nodeIp: (name: string) => {
        const id = this.byName.get(name)
        if (id == null) return undefined
        return id === this.peerId ? this.selfIp : assignment.get(id)?.ip
      },
      tagIps: (tag: string) => tagIps.get(tag) ?? [],
    })
    const compiled = new Map<string, CompiledAcl>()
    const compileFor = (mem: Membership): CompiledAcl => {
      let c = compiled.get(mem.keyName)
      if (c == null) {
        const v = validateAcl(mem.acl)
        c = compileAcl(v.ok ? v.acl : denyAllAcl(), ctxFor(mem.keyName))
        if (!v.ok) this.log.warn('key has an invalid ACL: denying all', { key: mem.keyName })
        compiled.set(mem.keyName, c)
      }
      return c
    }
    const outbound = this.selfMembership != null ? compileFor(this.selfMembership) : null

    const seen = new Set<string>()
    for (const n of nodes) {
      const peerId = n.record.peerId
      const a = assignment.get(peerId)
      if (a == null) continue
      seen.add(peerId)
      const inbound = compileFor(n.membership)
      let st = this.peers.get(peerId)
      const allowed = outbound != null && mayOpenStream(this.selfIp, a.ip, inbound, outbound)
      let filter: PacketFilter | null = null
      if (allowed) {
        if (st?.filter != null && st.ip === a.ip && st.filter.selfIp === this.selfIp) {
          st.filter.replace(inbound, outbound)
          filter = st.filter
        } else {
          filter = createPacketFilter({
            selfIp: this.selfIp,
            peerIp: a.ip,
            inbound,
            outbound,
            conntrack: this.conntrack,
          })
        }
      }
      const name = names.get(peerId) ?? n.record.name
      if (st == null) {
        st = { peerId, ip: a.ip, name, membership: n.membership, filter }
        this.peers.set(peerId, st)
      } else {
        st.ip = a.ip
        st.name = name
        st.membership = n.membership
        st.filter = filter
      }
      this.pump?.upsertPeer(peerId, a.ip, filter)
      await this.rememberAddrs(n.record)
    }
    for (const peerId of [...this.peers.keys()]) {
      if (!seen.has(peerId)) {
        this.peers.delete(peerId)
        this.pump?.removePeer(peerId, 'no longer a member')
        this.log.info('peer removed from the data plane', { peer: peerId, policyVersion: policy.version })
      }
    }
    if (this.selfMembership == null) {
      // we are not (or no longer) a member: nothing may flow
      for (const st of this.peers.values()) this.pump?.upsertPeer(st.peerId, st.ip, null)
    }
    if (oldIp !== this.selfIp || this.lastRecord == null) await this.publishRecord().catch(() => {})
    if (this.peerId === this.init.owner) await this.bindOneUseKeys(policy, nodes)
  }

  /**
   * On the owner: a one-use key is bound to the first member seen using it (a new policy version
   * with `claimedBy`), after which every node refuses claims of that key by anyone else.
   */
  private async bindOneUseKeys(policy: Policy, nodes: Array<{ record: NodeRecord; membership: Membership }>) {
    for (const n of nodes) {
      const key = policy.keys.find((k) => k.name === n.membership.keyName)
      if (key == null || key.reusable || key.claimedBy != null) continue
      try {
        const next = await markKeyClaimed(policy, this.init.privateKey, key.name, n.record.peerId)
        this.log.info('one-use key bound to its first member', { key: key.name, peer: n.record.peerId })
        await this.publishPolicy(next.envelope)
      } catch (err) {
        this.log.warn('binding a one-use key failed', { key: key.name, error: (err as Error).message })
      }
      return // one change per recompute; the new version triggers the next one
    }
  }

  private async rememberAddrs(r: NodeRecord): Promise<void> {
    if (r.addrs.length === 0) return
    try {
      await this.libp2p.peerStore.merge(peerIdFromString(r.peerId), {
        multiaddrs: r.addrs.map((a) => multiaddr(a)),
      })
    } catch (err) {
      this.log.debug('peer store merge failed', { peer: r.peerId, error: (err as Error).message })
    }
  }

  // ---- records ----------------------------------------------------------------------------------

  private links(): Link[] {
    const out: Link[] = []
    for (const conn of this.libp2p.getConnections()) {
      const peer = conn.remotePeer.toString()
      if (!this.peers.has(peer) || out.some((l) => l.peer === peer)) continue
      out.push({
        peer,
        path: this.paths.path(peer) === 'relay' ? 'relay' : 'direct',
        rttMs: this.rtts.get(peer) ?? null,
      })
      if (out.length >= 64) break
    }
    return out
  }

  /** Signs and gossips our node record (needs a policy and an address). */
  async publishRecord(): Promise<void> {
    if (!this.running || this.selfIp === 0 || this.policyStore.policy == null) return
    const now = Date.now()
    this.lastSeq = Math.max(now, this.lastSeq + 1)
    const addrs = this.libp2p
      .getMultiaddrs()
      .map((a) => a.toString())
      .filter((a) => !a.includes('/p2p-circuit') && this.underlay(a))
      .map((a) => a.replace(/\/p2p\/[^/]+$/, ''))
      .slice(0, 32)
    const record: NodeRecord = {
      type: 'record',
      v: 1,
      networkId: this.networkId,
      peerId: this.peerId,
      seq: this.lastSeq,
      ts: now,
      name: this.selfName,
      ip: uint32ToIp(this.selfIp),
      counter: this.selfCounter,
      addrs,
      links: this.links(),
      relays: this.paths.circuitAddrs().slice(0, 8),
      claim: this.init.claim ?? null,
      policyVersion: this.policyStore.version,
      relay: this.init.relay === true,
      observed: this.nat.mapped != null ? [this.nat.mapped] : [],
    }
    this.lastRecord = await encodeRecord(record, this.init.privateKey)
    await this.libp2p.services.pubsub
      .publish(recordsTopic(this.networkId), this.lastRecord)
      .catch((err: Error) => {
        this.log.debug('record publish', { error: err.message })
      })
  }

  /** Records worth keeping across a restart (every member we know, and ours). */
  knownRecordEnvelopes(): Uint8Array[] {
    return this.topology.all().map((n) => n.bytes)
  }

  // ---- connections, sync, bootstrap -------------------------------------------------------------

  private async bootstrap(): Promise<void> {
    for (const addr of this.init.bootstrap ?? []) {
      let ma: ReturnType<typeof multiaddr>
      try {
        ma = multiaddr(addr)
      } catch {
        this.log.warn('bad bootstrap address', { addr })
        continue
      }
      const id = ma.getComponents().find((c) => c.name === 'p2p')?.value
      if (id === this.peerId) continue
      if (id != null && this.libp2p.getConnections(peerIdFromString(id)).length > 0) continue
      try {
        const conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(5000) })
        if (this.policyStore.policy == null || this.topology.size === 0) await this.syncWith(conn.remotePeer)
      } catch (err) {
        this.log.debug('bootstrap dial failed', { addr, error: (err as Error).message })
      }
    }
  }

  private onConnectionOpen(conn: Connection): void {
    const peer = conn.remotePeer
    if (!isRelayed(conn)) {
      void this.upgradeTunnel(peer.toString(), conn)
      if (conn.direction === 'outbound') void this.learnObserved(conn)
    } else if (conn.direction === 'inbound') {
      // a member reached us through a relay: we are "B" and start hole punching
      setTimeout(() => void this.maybePunch(conn), 100).unref()
    }
    if (conn.direction === 'outbound') void this.syncWith(peer).catch(() => {})
    // peers that never prove membership are disconnected
    setTimeout(() => {
      if (!this.running) return
      const id = peer.toString()
      if (id === this.init.owner || this.topology.get(id) != null) return
      if (this.libp2p.getConnections(peer).length === 0) return
      this.log.info('disconnecting non-member', { peer: id })
      void this.libp2p.hangUp(peer).catch(() => {})
    }, MEMBERSHIP_GRACE_MS).unref()
  }

  /** Pulls records we missed on gossip from one random connected member. */
  private async antiEntropy(): Promise<void> {
    const conns = this.libp2p.getConnections().filter((c) => {
      const id = c.remotePeer.toString()
      return id === this.init.owner || this.topology.get(id) != null
    })
    if (conns.length === 0) return
    const pick = conns[Math.floor(Math.random() * conns.length)]
    await this.syncWith(pick.remotePeer).catch((err: Error) => {
      this.log.debug('anti-entropy sync failed', { peer: pick.remotePeer.toString(), error: err.message })
    })
  }

  async syncWith(peer: PeerId): Promise<void> {
    const stream = await this.libp2p.dialProtocol(peer, SYNC_PROTOCOL, {
      runOnLimitedConnection: true,
      signal: AbortSignal.timeout(10_000),
    })
    const res = await syncClient(stream, {
      networkId: this.networkId,
      claim: this.init.claim ?? null,
      record: this.lastRecord,
      have: Object.fromEntries(this.topology.all().map((n) => [n.record.peerId, n.record.seq])),
    })
    if (!res.ok) {
      this.log.warn('sync refused', { peer: peer.toString(), reason: res.reason })
      return
    }
    const p = await this.policyStore.offer(res.policy)
    if (typeof p === 'object') this.log.warn('synced policy refused', { reason: p.rejected })
    let fresh = p === 'accepted'
    for (const r of res.records) if ((await this.topology.offer(r)) === 'accepted') fresh = true
    if (fresh) await this.recompute()
  }

  private async onSyncStream(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    try {
      await syncServer(stream, async (req): Promise<SyncResponse> => {
        if (req == null) return { ok: false, reason: 'malformed sync request' }
        if (req.networkId !== this.networkId) return { ok: false, reason: 'not this network' }
        const policy = this.policyStore.envelope
        if (policy == null) return { ok: false, reason: 'this node has no policy yet' }
        if (req.record != null) {
          const r = await this.topology.offer(req.record)
          if (typeof r === 'object') this.log.debug('synced record refused', { peer, reason: r.rejected })
        }
        const m = await this.policyStore.membership(peer, req.claim)
        if (!m.ok) {
          this.log.info('sync from non-member refused', { peer, reason: m.reason })
          setTimeout(() => void this.libp2p.hangUp(conn.remotePeer).catch(() => {}), 200).unref()
          return { ok: false, reason: `not a member: ${m.reason}` }
        }
        const have = req.have ?? {}
        const records = this.topology
          .all()
          .filter((n) => n.record.peerId !== peer && (have[n.record.peerId] ?? -1) < n.record.seq)
          .map((n) => n.bytes)
        if (this.lastRecord != null && (have[this.peerId] ?? -1) < this.lastSeq) records.push(this.lastRecord)
        return { ok: true, policy, records }
      })
    } catch (err) {
      this.log.debug('sync stream failed', { peer, error: (err as Error).message })
      stream.abort(err as Error)
    }
  }

  private onTunnelStream(stream: Stream, conn: Connection): void {
    const peer = conn.remotePeer.toString()
    if (this.pump == null) {
      refuseStream(stream, 'NO_DATA_PLANE', 'this node has no data plane')
      return
    }
    const st = this.peers.get(peer)
    if (st == null) {
      refuseStream(stream, 'NOT_MEMBER', 'no valid membership record for your node here')
      return
    }
    if (st.filter == null) {
      refuseStream(
        stream,
        'ACL',
        `key ${st.membership.keyName} may reach nothing on ${this.selfName}, and nothing here reaches you`,
      )
      return
    }
    this.pump.acceptInbound(peer, stream)
  }

  /**
   * Cuts a peer off: its tunnel at once, its connection a moment later so the policy that
   * removed it still reaches it and it can tell its user why.
   */
  private async disconnect(peerId: string, why: string): Promise<void> {
    this.pump?.removePeer(peerId, why)
    if (this.peers.delete(peerId)) {
      this.log.info('peer removed from the data plane', {
        peer: peerId,
        policyVersion: this.policyStore.version,
      })
    }
    await new Promise((r) => setTimeout(r, 500).unref())
    if (this.topology.get(peerId) != null) return // readmitted meanwhile
    try {
      await this.libp2p.hangUp(peerIdFromString(peerId))
    } catch {}
  }

  private async measureRtts(): Promise<void> {
    for (const st of this.peers.values()) {
      const id = peerIdFromString(st.peerId)
      if (this.libp2p.getConnections(id).length === 0) continue
      try {
        const rtt = await this.libp2p.services.ping.ping(id, { signal: AbortSignal.timeout(5000) })
        this.rtts.set(st.peerId, rtt)
      } catch {
        this.rtts.delete(st.peerId)
      }
    }
  }

  // ---- queries ----------------------------------------------------------------------------------

  private pathTo(peerId: string): 'direct' | 'relay' | 'none' {
    return this.paths.path(peerId)
  }

  private listenPort(): number | null {
    for (const a of this.libp2p.getMultiaddrs()) {
      const t = a.toString()
      if (t.includes('/p2p-circuit')) continue
      const m = /\/tcp\/(\d+)/.exec(t)
      if (m != null) return Number(m[1])
    }
    return null
  }

  private lanIps(): string[] {
    const out = new Set<string>()
    for (const a of this.libp2p.getMultiaddrs()) {
      const m = /^\/ip4\/([\d.]+)\/tcp\//.exec(a.toString())
      if (
        m != null &&
        !m[1].startsWith('127.') &&
        !a.toString().includes('/p2p-circuit') &&
        this.underlay(m[1])
      ) {
        out.add(m[1])
      }
    }
    return [...out]
  }

  /**
   * False for addresses inside the overlay subnet: a connection to one of those would run inside
   * the tunnel itself. They are never announced, punched or dialled as an underlay path.
   */
  underlay(addrOrIp: string): boolean {
    const policy = this.policyStore.policy
    if (policy == null) return true
    const ip = /^\/ip4\/([\d.]+)/.exec(addrOrIp)?.[1] ?? addrOrIp
    const n = ipToUint32(ip)
    const c = parseCidr(policy.subnet)
    if (n < 0 || !c.ok) return true
    return (n & c.mask) >>> 0 !== c.base
  }

  /** Asks a member which public address our connection comes from. */
  private async learnObserved(conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString()
    if (!this.isMember(id)) return
    const seen = await this.puncher.observe(conn)
    const ip = seen == null ? null : /^\/ip4\/([\d.]+)\//.exec(seen)?.[1]
    if (ip == null || this.lanIps().includes(ip) || this.observedIps.has(ip)) return
    this.observedIps.add(ip)
    this.log.info('observed public address', { ip, by: id })
    await this.publishRecord().catch(() => {})
  }

  private async maybePunch(conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    if (!this.running || conn.status !== 'open' || !this.isMember(peer)) return
    if (this.paths.path(peer) === 'direct') return
    const b = this.punchBackoff.get(peer)
    if (b != null && Date.now() < b.next) return
    await this.puncher.initiate(conn)
  }

  private onPunchResult(peer: string, r: PunchResult): void {
    if (r.ok) {
      this.punchBackoff.delete(peer)
      this.paths.directFailures.delete(peer)
      this.log.info('hole punched: direct connection', { peer, ms: Math.round(r.ms), addr: r.addr })
      return
    }
    const b = this.punchBackoff.get(peer) ?? { attempts: 0, next: 0 }
    b.attempts++
    const delay = Math.min(300_000, 10_000 * 2 ** (b.attempts - 1))
    b.next = Date.now() + delay
    this.punchBackoff.set(peer, b)
    const symmetric = this.nat.preservesPort === false || this.peerIsSymmetric(peer)
    const reason: DirectFailure = symmetric ? 'symmetric-nat' : 'punch-failed'
    this.paths.directFailures.set(peer, reason)
    this.log.info('hole punch failed', { peer, reason, detail: r.detail, retryInMs: delay })
    // retry while the relayed path exists
    setTimeout(() => {
      const conn = this.libp2p
        .getConnections(peerIdFromString(peer))
        .find((c) => isRelayed(c) && c.direction === 'inbound')
      if (conn != null) void this.maybePunch(conn)
    }, delay).unref()
  }

  /** A peer whose probe says its NAT changed the port of a dial from its listening port. */
  private peerIsSymmetric(peerId: string): boolean {
    const rec = this.topology.get(peerId)?.record
    if (rec?.observed == null || rec.observed.length === 0) return false
    const ports = new Set(rec.addrs.map((a) => /\/tcp\/(\d+)/.exec(a)?.[1]).filter((p) => p != null))
    return rec.observed.some((o) => {
      const p = /\/tcp\/(\d+)/.exec(o)?.[1]
      return p != null && !ports.has(p)
    })
  }

  /**
   * Dials a member relay from our listening port and asks what it sees: tells whether our NAT
   * keeps the port (hole punching can work) or not (symmetric: the relay is the path).
   */
  async probeNat(): Promise<void> {
    const port = this.listenPort()
    const relays = this.topology.all().filter((n) => n.record.relay === true && this.topology.isOnline(n))
    if (port == null || relays.length === 0) return
    for (const r of relays) {
      const conn = this.paths.best(r.record.peerId)
      if (conn == null || isRelayed(conn)) continue
      const m = /^\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(conn.remoteAddr.toString())
      if (m == null) continue
      try {
        const socket = await dialFromPort({
          localPort: port,
          remoteAddress: m[1],
          remotePort: Number(m[2]),
          timeoutMs: 3000,
        })
        const { components } = this.libp2p.services.internals as Internals
        const probe = await components.upgrader.upgradeOutbound(
          socketToConnection(socket, 'outbound', components.logger.forComponent('meshlan:natprobe')),
          { signal: AbortSignal.timeout(5000) },
        )
        const seen = await this.puncher.observe(probe)
        await probe.close().catch(() => {})
        const mp = seen == null ? null : /^\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(seen)
        if (mp == null) continue
        this.nat = {
          mapped: `/ip4/${mp[1]}/tcp/${mp[2]}`,
          preservesPort: Number(mp[2]) === port,
          checkedAt: Date.now(),
        }
        if (!this.lanIps().includes(mp[1])) this.observedIps.add(mp[1])
        this.log.info('nat probe', { mapped: this.nat.mapped, preservesPort: this.nat.preservesPort })
        await this.publishRecord().catch(() => {})
        return
      } catch (err) {
        this.log.debug('nat probe failed', { relay: r.record.peerId, error: (err as Error).message })
      }
    }
  }

  /** `meshlan netcheck`: reachability, observed addresses, NAT behaviour, relays and RTTs. */
  netcheck() {
    const circuits = this.paths.circuitAddrs()
    return {
      listen: this.libp2p
        .getMultiaddrs()
        .map((a) => a.toString())
        .filter((a) => !a.includes('/p2p-circuit')),
      observed: [...this.observedIps],
      natMapping: this.nat.mapped,
      natPreservesPort: this.nat.preservesPort,
      behindNat:
        this.observedIps.size > 0 ? ![...this.observedIps].every((ip) => this.lanIps().includes(ip)) : null,
      relay: this.init.relay === true,
      relays: this.topology
        .all()
        .filter((n) => n.record.relay === true)
        .map((n) => ({
          peerId: n.record.peerId,
          name: n.record.name,
          rttMs: this.paths.relayRtts.get(n.record.peerId) ?? null,
          reserved: circuits.some((c) => c.includes(n.record.peerId)),
        })),
    }
  }

  private pathDetail(peerId: string): { via: string | null; why: DirectFailure } {
    const path = this.paths.path(peerId)
    if (path === 'direct') return { via: null, why: null }
    const relay = this.paths.relayOf(peerId)
    const via = relay == null ? null : (this.topology.get(relay)?.record.name ?? relay)
    if (path === 'none') {
      // idle (no traffic yet) explains nothing; a failed dial does
      if (this.paths.lastDialError(peerId) == null) return { via, why: null }
      const noRelay = this.topology.all().every((n) => n.record.relay !== true)
      return { via, why: noRelay ? 'no-relay' : 'punch-failed' }
    }
    // the NAT behaviour is the root cause when known; a failed punch only says "it didn't work"
    if (this.nat.preservesPort === false || this.peerIsSymmetric(peerId)) return { via, why: 'symmetric-nat' }
    const known = this.paths.directFailures.get(peerId)
    if (known != null) return { via, why: known }
    return { via, why: path === 'relay' ? 'not-tried' : null }
  }

  private isMember(peerId: string): boolean {
    return peerId === this.init.owner || peerId === this.peerId || this.topology.get(peerId) != null
  }

  private async maintainRelays(): Promise<void> {
    if (!this.running) return
    const before = this.paths.circuitAddrs().join(',')
    await this.paths.maintainReservations().catch((err: Error) => {
      this.log.debug('relay maintenance failed', { error: err.message })
    })
    if (this.paths.circuitAddrs().join(',') !== before) await this.publishRecord().catch(() => {})
  }

  /** A direct connection appeared: move that peer's relayed tunnel onto it without a gap. */
  private async upgradeTunnel(peerId: string, conn: Connection): Promise<void> {
    if (this.pump == null || !this.peers.has(peerId)) return
    if (!this.pump.hasRelayedOutbound(peerId)) return
    try {
      const stream = await conn.newStream(TUNNEL_PROTOCOL, { signal: AbortSignal.timeout(5000) })
      this.pump.replaceOutbound(peerId, stream, 'direct')
      this.log.info('tunnel moved to a direct connection', { peer: peerId })
    } catch (err) {
      this.log.debug('tunnel upgrade failed', { peer: peerId, error: (err as Error).message })
    }
  }

  /**
   * Direct paths carrying tunnels are pinged often; two misses in a row close the connection so
   * the pump falls back to the relay (the relayed connection stays open for that).
   */
  private async watchDirectPaths(): Promise<void> {
    if (this.pump == null || !this.running) return
    for (const peerId of this.pump.activePeers(3000)) {
      const conn = this.paths.best(peerId)
      if (conn == null || isRelayed(conn)) continue
      const rec = this.topology.get(peerId)?.record
      if ((rec?.relays.length ?? 0) === 0 && this.paths.circuitAddrs().length === 0) continue
      try {
        await pingConnection(conn, DIRECT_WATCH_TIMEOUT_MS)
        this.directMisses.delete(peerId)
      } catch {
        const misses = (this.directMisses.get(peerId) ?? 0) + 1
        this.directMisses.set(peerId, misses)
        if (misses >= 2) {
          this.directMisses.delete(peerId)
          this.log.info('direct path dead, falling back to the relay', { peer: peerId })
          conn.abort(new Error('direct path stopped answering'))
          // the way back: punch again once things settle (B's side initiates, as always)
          setTimeout(() => {
            const relayed = this.libp2p
              .getConnections(peerIdFromString(peerId))
              .find((c) => isRelayed(c) && c.direction === 'inbound')
            if (relayed != null) void this.maybePunch(relayed)
          }, 3000).unref()
        }
      }
    }
  }

  status(): NodeStatus {
    const policy = this.policyStore.policy
    const stats = new Map((this.pump?.linkStats() ?? []).map((s) => [s.peerId, s]))
    const peers: PeerStatus[] = [...this.peers.values()]
      .map((st) => {
        const s = stats.get(st.peerId)
        const node = this.topology.get(st.peerId)
        return {
          name: st.name,
          ip: uint32ToIp(st.ip),
          peerId: st.peerId,
          path: this.pathTo(st.peerId),
          rttMs: this.rtts.get(st.peerId) ?? null,
          rxBytes: s?.rxBytes ?? 0,
          txBytes: s?.txBytes ?? 0,
          key: st.membership.keyName,
          online: node != null && this.topology.isOnline(node),
          ...this.pathDetail(st.peerId),
        }
      })
      .sort((a, b) => a.name.localeCompare(b.name))
    return {
      self: {
        name: this.selfName,
        ip: this.address,
        peerId: this.peerId,
        network: {
          id: this.networkId,
          name: policy?.name ?? null,
          subnet: policy?.subnet ?? null,
          owner: this.init.owner,
          policyVersion: this.policyStore.version,
        },
        key: this.selfMembership?.keyName ?? null,
        member: this.selfMembership != null,
        reason: this.selfReason,
      },
      peers,
      drops: this.pump?.dropCounts() ?? {},
    }
  }

  /** MagicDNS: a member's (or our own) overlay address by final name. */
  nameToIp(name: string): string | null {
    const id = this.byName.get(name)
    if (id == null) return null
    if (id === this.peerId) return this.address
    const st = this.peers.get(id)
    return st == null ? null : uint32ToIp(st.ip)
  }

  /** MagicDNS: the final name of the member (or us) at an overlay address. */
  ipToName(ip: string): string | null {
    const n = ipToUint32(ip)
    if (n < 0) return null
    if (n === this.selfIp) return this.selfName
    for (const st of this.peers.values()) if (st.ip === n) return st.name
    return null
  }

  /** Every final name and address, ours included (for `meshlan dns status`). */
  names(): Array<{ name: string; ip: string }> {
    const out: Array<{ name: string; ip: string }> = []
    if (this.address != null) out.push({ name: this.selfName, ip: this.address })
    for (const st of this.peers.values()) out.push({ name: st.name, ip: uint32ToIp(st.ip) })
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Finds a member by final name or overlay IP. */
  resolve(target: string): PeerState | null {
    const id = this.byName.get(target.replace(/\.mesh$/, ''))
    if (id != null) return this.peers.get(id) ?? null
    const ip = ipToUint32(target)
    if (ip >= 0) for (const st of this.peers.values()) if (st.ip === ip) return st
    return null
  }

  /** Overlay-level ping: which path answered, or why there is none. */
  async ping(target: string, count = 3): Promise<PingResult> {
    const st = this.resolve(target)
    if (st == null) return { ok: false, code: 'NO_ROUTE', reason: `no member named or addressed ${target}` }
    if (this.selfMembership == null) {
      return { ok: false, code: 'NOT_MEMBER', reason: `this node is not a member: ${this.selfReason}` }
    }
    const outbound = st.filter?.outbound
    // an ICMP echo from us must be allowed by our key, or be a reply — a ping is never a reply
    if (outbound == null || !outbound.allows(st.ip, 1, 0, 8)) {
      const why =
        outbound?.explain(st.ip, 1, 0, 8) ??
        `key ${this.selfMembership.keyName} may reach nothing on ${st.name} (${uint32ToIp(st.ip)})`
      return {
        ok: false,
        code: 'ACL',
        peerId: st.peerId,
        reason: `denied by key ${this.selfMembership.keyName}'s ACL: ${why}`,
      }
    }
    const rtts: number[] = []
    let lastErr = ''
    for (let i = 0; i < count; i++) {
      try {
        const conn = this.paths.best(st.peerId) ?? (await this.paths.connect(st.peerId))
        rtts.push(await pingConnection(conn, 5000))
      } catch (err) {
        lastErr = (err as Error).message
      }
      if (i < count - 1) await new Promise((r) => setTimeout(r, 200))
    }
    if (rtts.length === 0) {
      return { ok: false, code: 'OFFLINE', peerId: st.peerId, reason: `${st.name} is offline: ${lastErr}` }
    }
    const path = this.pathTo(st.peerId)
    return {
      ok: true,
      peerId: st.peerId,
      name: st.name,
      ip: uint32ToIp(st.ip),
      path: path === 'relay' ? 'relay' : 'direct',
      rttMs: rtts,
      ...this.pathDetail(st.peerId),
    }
  }
}

export function createMeshNode(init: MeshNodeInit): MeshNode {
  return new MeshNode(init)
}
