/**
 * The mesh node: a libp2p node composed of meshlan's services, wired together here and nowhere
 * else.
 *
 *   membership ── who is a member (hello gate, policy store, expiry, the one signer, binder)
 *   topology   ── member records and policies on gossip and sync; bootstrap; our own record
 *   reachability ─ paths, relays, hole punching, NAT probe, direct-path watchdog
 *   tunnel     ── the stream gate of the data plane and the pump
 *
 * `recompute()` turns (policy, records, self) into a peer table (peer-table.ts, pure) and hands it
 * to the tunnel; it runs, debounced, after every policy, record or expiry change.
 */
import { EventEmitter } from 'node:events'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type Policy, uint32ToIp } from '@meshlan/wire'
import { Coalescer } from './coalesce.ts'
import { composeNode, type MeshNodeInit, type NodeServices, selfRecord } from './compose.ts'
import { RTT_REFRESH_MS } from './constants.ts'
import { createLogger, type Logger } from './logger.ts'
import type { MembershipService } from './membership/service.ts'
import type { PolicyChange } from './network.ts'
import { isUnderlay } from './overlay.ts'
import { computePeerTable, emptyPeerTable, type PeerTable } from './peer-table.ts'
import { DialBypass } from './routing/dial-bypass.ts'
import * as routing from './routing/settings.ts'
import { refreshRtts } from './rtt.ts'
import * as view from './status.ts'
import { Ticker } from './ticker.ts'
import type { RecordFields, TopologyService } from './topology/service.ts'
import type { MeshLibp2p } from './transport.ts'

export type { MeshNodeInit } from './compose.ts'
export type { NodeStatus, PeerStatus, PingResult } from './status.ts'

export interface MeshNodeEvents {
  address: [ip: string, prefix: number]
  policy: [policy: Policy, envelope: Uint8Array]
  records: []
  /** After every recompute: what the host's kernel must do for routes and the exit node. */
  routing: [routing.HostRouting]
}

export class MeshNode extends EventEmitter<MeshNodeEvents> {
  readonly peerId: string
  readonly networkId: string
  private readonly init: MeshNodeInit
  private readonly log: Logger
  private lp: MeshLibp2p<NodeServices> | null = null
  private table: PeerTable = emptyPeerTable()
  private selfReason: string | null = 'no policy yet'
  private selfKey: string | null = null
  private readonly rtts = new Map<string, number>()
  private readonly dialBypass = new DialBypass()
  private readonly recomputer: Coalescer
  /** The node's periodic upkeep, in gossipsub's heartbeat (the daemon's too: `node.ticker.every`). */
  readonly ticker = new Ticker()
  private routing: routing.RoutingState

  constructor(init: MeshNodeInit) {
    super()
    this.init = init
    this.networkId = init.networkId
    this.log = init.log ?? createLogger('mesh')
    this.peerId = peerIdFromPrivateKey(init.privateKey).toString()
    this.recomputer = new Coalescer(() => this.doRecompute(), init.recomputeDebounceMs ?? 50)
    this.routing = routing.routingState(init, null, null)
  }

  private get s(): NodeServices {
    if (this.lp == null) throw new Error('the node is not started: call start() first')
    return this.lp.services
  }

  get libp2pNode(): MeshLibp2p<NodeServices> {
    if (this.lp == null) throw new Error('the node is not started: call start() first')
    return this.lp
  }

  get membership(): MembershipService {
    return this.s.membership
  }

  get topology(): TopologyService {
    return this.s.topology
  }

  get address(): string | null {
    return this.table.self == null ? null : uint32ToIp(this.table.self.ip)
  }

  get name(): string {
    return this.table.self?.name ?? this.init.name
  }

  async start(): Promise<void> {
    const { lp } = await composeNode(this.init, this.log, this.ticker, {
      describe: () => this.describe(),
      isMember: (id) => this.isMember(id),
      underlay: (addr) => this.underlay(addr),
      beforeDial: (addr) => this.beforeDial(addr),
      selfName: () => this.name,
    })
    this.lp = lp
    const { membership: m, topology: t } = lp.services
    m.on('policy', (policy, envelope) => {
      this.emit('policy', policy, envelope)
      this.recomputer.schedule()
    })
    m.on('expiry', () => this.recomputer.schedule())
    t.on('change', () => {
      this.emit('records')
      this.recomputer.schedule()
    })
    // a router's connection opening or closing may move a route's primary (HA takeover)
    routing.watchRouters(lp, () => this.table, this.recomputer)
    await lp.start()
    // handlers registered by services after libp2p's afterStart are gated too
    await m.gate.wrapAll()
    this.log.info('node started', {
      peer: this.peerId,
      network: this.networkId,
      addrs: lp.getMultiaddrs().map(String).join(','),
    })
    await m.bindSelf(this.init.name)
    await this.recompute()
    this.ticker.every(
      RTT_REFRESH_MS,
      () => void refreshRtts(this.table.peers.keys(), this.s.reachability, this.rtts),
    )
  }

  async stop(): Promise<void> {
    if (this.lp == null) return
    this.ticker.stop()
    this.recomputer.stop()
    await this.lp.stop()
    this.log.info('node stopped')
  }

  /** The owner's one way to change the policy (serialised; a stale version is an error). */
  amendPolicy(change: PolicyChange): Promise<{ policy: Policy; envelope: Uint8Array }> {
    return this.s.membership.amend(change)
  }

  /** Changes routes/exit settings live (unset fields stay; bad input throws first); republishes. */
  async setRouting(opts: routing.RoutingOptions): Promise<void> {
    this.routing = routing.routingState(opts, this.routing, this.subnet)
    if (this.lp == null) return
    await this.recompute()
    await this.s.topology.publishRecord().catch(() => {})
  }

  /** Derives addresses, names and filters from the policy and the records. Serialised. */
  recompute(): Promise<void> {
    return this.recomputer.run()
  }

  private async doRecompute(): Promise<void> {
    const { membership: m, topology: t, tunnel: tu } = this.s
    const policy = m.store.policy
    if (policy == null) return
    const self = await m.store.membership(this.peerId, this.init.claim ?? null)
    this.selfReason = self.ok ? null : self.reason
    this.selfKey = self.ok ? self.value.keyName : null
    const nodes = t.all()
    const before = this.table.self
    this.table = computePeerTable({
      networkId: this.networkId,
      policy,
      selfId: this.peerId,
      selfWanted: this.init.name,
      selfMembership: self.ok ? self.value : null,
      members: nodes.map((n) => ({
        peerId: n.record.peerId,
        wanted: n.record.name,
        membership: n.membership,
        advertised: routing.offerOf(n.record),
      })),
      ...routing.tableInput(this.routing, nodes, this.s.reachability, (ip) => this.underlay(ip)),
    })
    for (const k of this.table.invalidAcls) this.log.warn('key has an invalid ACL: denying all', { key: k })
    tu.apply(this.table)
    routing.keepRoutersConnected(this.table, this.routing, this.s.reachability)
    const bypass = routing.underlayBypass(this.dialBypass.list(), this.init.bootstrap, this.lp, (ip) =>
      this.underlay(ip),
    )
    this.emit('routing', routing.hostRouting(this.table, bypass))
    const now = this.table.self
    if (now != null && (now.ip !== before?.ip || now.name !== before?.name)) {
      this.log.info('overlay address', { ip: uint32ToIp(now.ip), name: now.name, bound: now.bound })
      this.emit('address', uint32ToIp(now.ip), Number(policy.subnet.split('/')[1]))
    }
    if (now != null && (now.ip !== before?.ip || now.name !== before?.name || t.ownRecord == null)) {
      await t.publishRecord().catch(() => {})
    }
    // the owner binds every member it has not bound yet, itself included
    if (self.ok) m.requestBind(this.peerId, self.value, this.init.name)
    for (const n of nodes) {
      m.requestBind(n.record.peerId, n.membership, n.record.name)
      m.requestAutoApprove(n.record.peerId, routing.offerOf(n.record))
      await t.rememberAddrs(n.record)
    }
  }

  /** Our record's content (null while we have no address). */
  private describe(): RecordFields | null {
    if (this.table.self == null || this.lp == null) return null
    return selfRecord({
      self: this.table.self,
      wanted: this.init.name,
      relay: this.lp.services.reachability.relaying(),
      addrs: this.lp.services.reachability.announceAddrs(),
      reach: this.lp.services.reachability,
      offer: routing.advertised(this.routing),
      version: this.init.version,
    })
  }

  /**
   * False for addresses inside the overlay subnet: a connection to one of those would run inside
   * the tunnel itself. They are never announced, punched or dialled as an underlay path.
   */
  underlay(addrOrIp: string): boolean {
    return isUnderlay(addrOrIp, this.subnet)
  }

  /**
   * With an exit node in use, an address we are about to dial is routed outside the tunnel first
   * (the daemon's `beforeUnderlayDial`), and kept so while the dial may last (DialBypass).
   */
  private async beforeDial(addr: string): Promise<void> {
    if (this.table.exit == null || this.init.beforeUnderlayDial == null) return
    await this.dialBypass.before(addr, (ip) => this.underlay(ip), this.init.beforeUnderlayDial, this.log)
  }

  private get subnet(): string | null {
    return this.lp?.services.membership.store.policy?.subnet ?? null
  }

  private isMember(peerId: string): boolean {
    if (peerId === this.peerId) return true
    const m = this.lp?.services.membership
    return m != null && (m.gate.isAdmitted(peerId) || this.lp?.services.topology.get(peerId) != null)
  }

  /** Records worth keeping across a restart (every member we know). */
  knownRecordEnvelopes(): Uint8Array[] {
    return this.s.topology.all().map((n) => n.bytes)
  }

  netcheck() {
    return this.s.reachability.netcheck()
  }

  status(): view.NodeStatus {
    const { membership: m, topology: t, tunnel: tu } = this.s
    return view.nodeStatus({
      table: this.table,
      selfId: this.peerId,
      owner: this.init.owner,
      networkId: this.networkId,
      name: this.name,
      store: m.store,
      selfKey: this.selfKey,
      // before we are a member, a peer's refusal of our hello is the most useful reason
      reason: this.selfReason == null ? null : (m.gate.refusal ?? this.selfReason),
      reach: this.s.reachability,
      rtt: (p) => this.rtts.get(p) ?? null,
      ...view.recordFacts(t),
      selfVersion: this.init.version ?? null,
      links: () => tu.pump?.linkStats() ?? [],
      drops: { ...(tu.pump?.dropCounts() ?? {}), ...view.gateDrops(m.gate.counters) },
    })
  }

  /** MagicDNS: a member's (or our own) overlay address by final name. */
  nameToIp(name: string): string | null {
    return view.ipOfName(this.table, name)
  }

  /** MagicDNS: the final name of the member (or us) at an overlay address. */
  ipToName(ip: string): string | null {
    return view.nameAt(this.table, ip)
  }

  /** Every final name and address, ours included (for `meshlan dns status`). */
  names(): Array<{ name: string; ip: string }> {
    return view.nameList(this.table)
  }

  /** Overlay-level ping: which path answered, or why there is none. */
  ping(target: string, count = 3): Promise<view.PingResult> {
    const member = this.selfKey == null ? null : { key: this.selfKey }
    return view.pingPeer(this.table, this.s.reachability, target, count, member, this.selfReason)
  }
}

export function createMeshNode(init: MeshNodeInit): MeshNode {
  return new MeshNode(init)
}
