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
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ipToUint32, type Policy, parseCidr, sanitizeName, uint32ToIp } from '@meshlan/wire'
import { DEFAULT_LISTEN_PORT, KEEPALIVE_MS } from './constants.ts'
import { createLogger, type Logger } from './logger.ts'
import { bindMembers } from './membership/binder.ts'
import { OWNER_KEY_NAME } from './membership/policy-store.ts'
import { type MembershipService, membership } from './membership/service.ts'
import type { PolicyChange } from './network.ts'
import { computePeerTable, type PeerTable } from './peer-table.ts'
import type { PacketDevice } from './pump.ts'
import { pingConnection } from './reachability/paths.ts'
import { createReachability, type Reachability } from './reachability/service.ts'
import * as view from './status.ts'
import { type TopologyService, topology } from './topology/service.ts'
import { createTransport, type MeshLibp2p, type UnderlayTransport } from './transport.ts'
import { type TunnelService, tunnel } from './tunnel/service.ts'

export type { NodeStatus, PeerStatus, PingResult } from './status.ts'

export interface MeshNodeInit {
  privateKey: PrivateKey
  networkId: string
  /** Peer id of the network owner: the only key whose policies we accept. */
  owner: string
  /** Wanted node name (the owner binds it, made unique, when it admits us). */
  name: string
  /** The newest policy envelope we hold (always, on the owner). */
  policy?: Uint8Array | null
  /** Our membership claim (base64 envelope); null on the owner. */
  claim?: string | null
  /** Multiaddrs of members to contact first (with /p2p/ ids). */
  bootstrap?: string[]
  /** @default [`/ip4/0.0.0.0/tcp/${DEFAULT_LISTEN_PORT}`] */
  listen?: string[]
  announce?: string[]
  /** The underlay transport instead of TCP (tests: @libp2p/memory). @default TCP */
  underlay?: UnderlayTransport
  /** The packet device; omit for a control-plane-only node (tests). */
  device?: PacketDevice | null
  /** The device's MTU (every node of a network should use the same). @default DEFAULT_MTU */
  mtu?: number
  /** Records seen before a restart, offered again at start (validated like any other). */
  knownRecords?: Uint8Array[]
  /** Run a member relay (circuit relay v2 without default limits, members only). @default false */
  relay?: boolean
  /** Hold reservations on member relays and announce them. @default true unless this node is a relay */
  relayClient?: boolean
  /** Debounce of recompute after a change. @default 50 */
  recomputeDebounceMs?: number
  log?: Logger
}

export interface MeshNodeEvents {
  address: [ip: string, prefix: number]
  policy: [policy: Policy, envelope: Uint8Array]
  records: []
}

type Services = {
  membership: MembershipService
  topology: TopologyService
  tunnel: TunnelService
}

const EMPTY_TABLE: PeerTable = {
  self: null,
  outbound: null,
  peers: new Map(),
  byName: new Map(),
  invalidAcls: [],
}

export class MeshNode extends EventEmitter<MeshNodeEvents> {
  readonly peerId: string
  readonly networkId: string
  private readonly init: MeshNodeInit
  private readonly log: Logger
  private lp: MeshLibp2p<Services> | null = null
  private reach: Reachability | null = null
  private table: PeerTable = EMPTY_TABLE
  private selfReason: string | null = 'no policy yet'
  private selfKey: string | null = null
  private readonly rtts = new Map<string, number>()
  private recomputeTimer: NodeJS.Timeout | null = null
  private recomputing: Promise<void> | null = null
  private again = false
  private keepalive: NodeJS.Timeout | null = null

  constructor(init: MeshNodeInit) {
    super()
    this.init = init
    this.networkId = init.networkId
    this.log = init.log ?? createLogger('mesh')
    this.peerId = peerIdFromPrivateKey(init.privateKey).toString()
  }

  private get s(): Services & { reachability: Reachability } {
    if (this.lp == null || this.reach == null) throw new Error('the node is not started: call start() first')
    return { ...this.lp.services, reachability: this.reach }
  }

  get libp2pNode(): MeshLibp2p<Services> {
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
    const { init, log } = this
    let services: Services | null = null
    const gate = () => services?.membership.gate
    this.lp = await createTransport<Services>(
      {
        privateKey: init.privateKey,
        networkId: init.networkId,
        listen: init.listen ?? [`/ip4/0.0.0.0/tcp/${DEFAULT_LISTEN_PORT}`],
        announce: init.announce,
        underlay: init.underlay,
        relayServer: init.relay === true,
        gater: {
          deny: (peer) => gate()?.denies(peer) ?? false,
          isMember: (peer) => this.isMember(peer.toString()),
          underlay: (addr) => this.underlay(addr),
        },
      },
      {
        membership: membership({
          networkId: init.networkId,
          owner: init.owner,
          claim: init.claim ?? null,
          policy: init.policy,
          privateKey: init.privateKey,
          log: log.child('membership'),
        }),
        topology: topology({
          privateKey: init.privateKey,
          networkId: init.networkId,
          bootstrap: init.bootstrap ?? [],
          knownRecords: init.knownRecords ?? [],
          describe: () => this.describe(),
          log: log.child('topology'),
        }),
        tunnel: tunnel({
          device: init.device ?? null,
          mtu: init.mtu,
          openStream: (peer) => this.s.reachability.openTunnel(peer),
          selfName: () => this.name,
          log: log.child('tunnel'),
        }),
      },
    )
    services = this.lp.services
    const { membership: m, topology: t, tunnel: tu } = services
    const reach = createReachability(
      {
        selfId: this.peerId,
        log: log.child('reachability'),
        relay: init.relay === true,
        holdReservations: init.relayClient ?? init.relay !== true,
      },
      {
        libp2p: this.lp,
        topology: {
          record: (id) => t.get(id)?.record,
          relays: () =>
            t
              .all()
              .filter((n) => n.record.relay === true)
              .map((n) => ({ record: n.record, online: t.isOnline(n) })),
        },
        isMember: (id) => this.isMember(id),
        underlay: (addr) => this.underlay(addr),
        publishRecord: () => t.publishRecord(),
        onDirect: (peer, conn) => void tu.moveToDirect(peer, conn),
        activePeers: (ms) => tu.pump?.activePeers(ms) ?? [],
      },
    )
    this.reach = reach
    m.on('policy', (policy, envelope) => {
      this.emit('policy', policy, envelope)
      this.scheduleRecompute()
    })
    m.on('expiry', () => this.scheduleRecompute())
    t.on('change', () => {
      this.emit('records')
      reach.topologyChanged()
      this.scheduleRecompute()
    })
    await this.lp.start()
    await reach.start()
    // handlers registered by services after libp2p's afterStart are gated too
    await m.gate.wrapAll()
    log.info('node started', {
      peer: this.peerId,
      network: this.networkId,
      addrs: this.lp.getMultiaddrs().map(String).join(','),
    })
    // the owner binds itself before it answers anyone, so its name and address are final at once
    if (m.isOwner && m.store.policy != null && m.store.binding(this.peerId) == null) {
      await m.amend(
        bindMembers([{ peerId: this.peerId, key: OWNER_KEY_NAME, wanted: this.init.name }], Date.now()),
      )
    }
    await this.recompute()
    this.keepalive = setInterval(() => void this.measureRtts(), KEEPALIVE_MS)
  }

  async stop(): Promise<void> {
    if (this.lp == null) return
    if (this.keepalive != null) clearInterval(this.keepalive)
    if (this.recomputeTimer != null) clearTimeout(this.recomputeTimer)
    await this.reach?.stop()
    await this.lp.stop()
    this.log.info('node stopped')
  }

  /** The owner's one way to change the policy (serialised; a stale version is an error). */
  amendPolicy(change: PolicyChange): Promise<{ policy: Policy; envelope: Uint8Array }> {
    return this.s.membership.amend(change)
  }

  private scheduleRecompute(): void {
    if (this.recomputeTimer != null || this.lp == null) return
    this.recomputeTimer = setTimeout(() => {
      this.recomputeTimer = null
      void this.recompute()
    }, this.init.recomputeDebounceMs ?? 50)
  }

  /** Derives addresses, names and filters from the policy and the records. Serialised. */
  async recompute(): Promise<void> {
    if (this.recomputing != null) {
      this.again = true
      return this.recomputing
    }
    this.recomputing = this.doRecompute().finally(() => {
      this.recomputing = null
    })
    await this.recomputing
    if (this.again) {
      this.again = false
      await this.recompute()
    }
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
      })),
    })
    for (const k of this.table.invalidAcls) this.log.warn('key has an invalid ACL: denying all', { key: k })
    tu.apply(this.table)
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
      await t.rememberAddrs(n.record)
    }
  }

  /** Our record's content (null while we have no address). */
  private describe() {
    const self = this.table.self
    if (self == null || this.lp == null) return null
    const r = this.s.reachability
    return {
      // the name we ask for: the owner binds it (made unique); peers derive the final one
      name: sanitizeName(this.init.name),
      ip: uint32ToIp(self.ip),
      counter: self.counter,
      addrs: this.lp
        .getMultiaddrs()
        .map(String)
        .filter((a) => !a.includes('/p2p-circuit') && this.underlay(a))
        .map((a) => a.replace(/\/p2p\/[^/]+$/, ''))
        .slice(0, 32),
      links: [...this.table.peers.keys()]
        .filter((p) => r.path(p) !== 'none')
        .slice(0, 64)
        .map((peer) => ({
          peer,
          path: r.path(peer) === 'relay' ? ('relay' as const) : ('direct' as const),
          rttMs: this.rtts.get(peer) ?? null,
        })),
      relays: r.circuitAddrs().slice(0, 8),
      relay: this.init.relay === true,
      observed: r.announcedMapping(),
    }
  }

  /**
   * False for addresses inside the overlay subnet: a connection to one of those would run inside
   * the tunnel itself. They are never announced, punched or dialled as an underlay path.
   */
  underlay(addrOrIp: string): boolean {
    const subnet = this.lp?.services.membership.store.policy?.subnet
    if (subnet == null) return true
    const ip = ipToUint32(/^\/ip4\/([\d.]+)/.exec(addrOrIp)?.[1] ?? addrOrIp)
    const c = parseCidr(subnet)
    return ip < 0 || !c.ok || (ip & c.mask) >>> 0 !== c.base
  }

  private isMember(peerId: string): boolean {
    if (peerId === this.peerId) return true
    const m = this.lp?.services.membership
    return m != null && (m.gate.isAdmitted(peerId) || this.lp?.services.topology.get(peerId) != null)
  }

  private async measureRtts(): Promise<void> {
    for (const peer of this.table.peers.keys()) {
      const conn = this.s.reachability.best(peer)
      if (conn == null) continue
      await pingConnection(conn, 5000)
        .then((rtt) => this.rtts.set(peer, rtt))
        .catch(() => this.rtts.delete(peer))
    }
  }

  /** Records worth keeping across a restart (every member we know). */
  knownRecordEnvelopes(): Uint8Array[] {
    return this.s.topology.all().map((n) => n.bytes)
  }

  netcheck() {
    return this.s.reachability.netcheck()
  }

  status(): view.NodeStatus {
    const { membership: m, reachability: r, topology: t } = this.s
    const policy = m.store.policy
    return {
      self: {
        name: this.name,
        ip: this.address,
        peerId: this.peerId,
        network: {
          id: this.networkId,
          name: policy?.name ?? null,
          subnet: policy?.subnet ?? null,
          owner: this.init.owner,
          policyVersion: m.store.version,
        },
        key: this.selfKey,
        member: this.selfKey != null,
        bound: this.table.self?.bound ?? false,
        // before we are a member, a peer's refusal of our hello is the most useful reason
        reason: this.selfReason == null ? null : (m.gate.refusal ?? this.selfReason),
      },
      peers: view.peerStatuses({
        table: this.table,
        selfId: this.peerId,
        path: (p) => r.path(p),
        pathDetail: (p) => r.pathDetail(p),
        rtt: (p) => this.rtts.get(p) ?? null,
        online: (p) => {
          const n = t.get(p)
          return n != null && t.isOnline(n)
        },
        links: () => this.s.tunnel.pump?.linkStats() ?? [],
      }),
      drops: { ...(this.s.tunnel.pump?.dropCounts() ?? {}), ...gateDrops(m) },
    }
  }

  /** MagicDNS: a member's (or our own) overlay address by final name. */
  nameToIp(name: string): string | null {
    const id = this.table.byName.get(name)
    if (id == null) return null
    if (id === this.peerId) return this.address
    const p = this.table.peers.get(id)
    return p == null ? null : uint32ToIp(p.ip)
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
  async ping(target: string, count = 3): Promise<view.PingResult> {
    const p = view.findPeer(this.table, target)
    if (p == null) return { ok: false, code: 'NO_ROUTE', reason: `no member named or addressed ${target}` }
    if (this.selfKey == null) {
      return { ok: false, code: 'NOT_MEMBER', reason: `this node is not a member: ${this.selfReason}` }
    }
    const denied = view.pingDenied(this.table, p, this.selfKey)
    if (denied != null) return { ok: false, code: 'ACL', peerId: p.peerId, reason: denied }
    const r = this.s.reachability
    const rtts: number[] = []
    let lastErr = ''
    for (let i = 0; i < count; i++) {
      try {
        rtts.push(await pingConnection(r.best(p.peerId) ?? (await r.connect(p.peerId)), 5000))
      } catch (err) {
        lastErr = (err as Error).message
      }
      if (i < count - 1) await new Promise((res) => setTimeout(res, 200))
    }
    if (rtts.length === 0)
      return { ok: false, code: 'OFFLINE', peerId: p.peerId, reason: `${p.name} is offline: ${lastErr}` }
    const path = r.path(p.peerId)
    return {
      ok: true,
      peerId: p.peerId,
      name: p.name,
      ip: uint32ToIp(p.ip),
      path: path === 'relay' ? 'relay' : 'direct',
      rttMs: rtts,
      ...r.pathDetail(p.peerId),
    }
  }
}

function gateDrops(m: MembershipService): Record<string, number> {
  const c = m.gate.counters
  return { NOT_MEMBER_STREAM: c.refusedStreams, HELLO_REFUSED: c.refusedHellos, EXPELLED: c.expelled }
}

export function createMeshNode(init: MeshNodeInit): MeshNode {
  return new MeshNode(init)
}
