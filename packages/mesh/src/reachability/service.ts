/**
 * (Over 500 lines: the libp2p service that owns paths, relays, punching, the NAT probe, port mapping and the relay role; each lives in its own file and this one wires their timers and events.)
 *
 * Reachability: how this node reaches each member and why not directly. Paths (direct > relayed,
 * dialling groups), relay reservations, our DCUtR hole punching with its back-off, the NAT probe,
 * observed public addresses, and the watchdog on direct paths. Everything NAT in one service with
 * declared inputs; it never reaches into the node.
 *
 * Wiring (in the node):
 * ```ts
 * const reach = createReachability(
 *   { selfId, log: log.child('reach'), relay: init.relay === true, holdReservations: init.relayClient ?? init.relay !== true },
 *   {
 *     libp2p,                                   // built by createTransport (it registers the adapter)
 *     topology: { record: (id) => topology.get(id)?.record,
 *                 relays: () => topology.all().filter((n) => n.record.relay === true)
 *                                 .map((n) => ({ record: n.record, online: topology.isOnline(n) })) },
 *     isMember: (id) => …,                       // owner, self, or a valid record
 *     underlay: (addr) => …,                     // false inside the overlay subnet
 *     publishRecord: () => node.publishRecord(), // what we announce changed
 *     onDirect: (peer, conn) => tunnel.moveToDirect(peer, conn),
 *     activePeers: (ms) => pump.activePeers(ms),
 *   })
 * await reach.start()          // after libp2p.start(): protocols, connection events, timers
 * topology.on('change', () => reach.topologyChanged())
 * pump openStream: (peer) => reach.openTunnel(peer); record: relays = reach.circuitAddrs(),
 * observed = reach.announcedMapping(); status: reach.path(peer), reach.pathDetail(peer);
 * `meshlan netcheck`: reach.netcheck(); ping: reach.best(peer) ?? await reach.connect(peer)
 * await reach.stop()           // before libp2p.stop()
 * ```
 */

import type { Connection, Stream } from '@libp2p/interface'
import { dialFromPort } from '@meshlan/tun'
import type { NodeRecord } from '@meshlan/wire'
import {
  DIRECT_WATCH_IDLE_MS,
  DIRECT_WATCH_MS,
  DIRECT_WATCH_TIMEOUT_MS,
  NAT_PROBE_MS,
  RELAY_MAINTAIN_MS,
  RELAYED_WATCH_TIMEOUT_MS,
  TUNNEL_ACTIVE_WINDOW_MS,
} from '../constants.ts'
import { addrFamily, announceableFamily, type IpFamily, isGlobalIpv6 } from '../ip-family.ts'
import type { Logger } from '../logger.ts'
import type { MembershipService } from '../membership/service.ts'
import { hostGlobalIpv6s, hostIpv4s, isUnderlay } from '../overlay.ts'
import { peerIdOf } from '../peer-ids.ts'
import { Ticker } from '../ticker.ts'
import type { TopologyService } from '../topology/service.ts'
import type { TunnelService } from '../tunnel/service.ts'
import { RetryBackoff } from './backoff.ts'
import { candidateAddrs } from './candidates.ts'
import {
  DIALBACK_PROTOCOL,
  DIRECT_MISSES_TO_FALLBACK,
  FIRST_PROBE_MS,
  OBSERVE_MAX_STREAMS,
  PUNCH_AFTER_RELAYED_MS,
  RELAY_CONFIRM_IDLE_MS,
  RELAY_CONFIRM_RETRY_MS,
  RELAY_SOON_MS,
  REPUNCH_AFTER_FALLBACK_MS,
} from './constants.ts'
import {
  askDialBack,
  DialBackResponder,
  ourSubnets,
  outsideMember,
  remoteIp,
  type TcpProbe,
} from './dialback.ts'
import {
  HolePuncher,
  type PortDialer,
  type PunchResult,
  type PunchStats,
  type StreamHandle,
} from './holepunch.ts'
import { hostOfComponents, type ReachabilityHost, type ReachabilityHostComponents } from './host.ts'
import { joinBootstrap } from './join-bootstrap.ts'
import type { Libp2pAdapter } from './libp2p-adapter.ts'
import { describeNat, type NatDescription } from './nat-kind.ts'
import { mappingIp, type NatMapping, peerIsSymmetric, probeNat, UNKNOWN_MAPPING } from './nat-probe.ts'
import { ObservedIps } from './observed.ts'
import {
  connFamily,
  type DirectFailure,
  isRelayed,
  type PathDetail,
  type PathKind,
  Paths,
  pingConnection,
  relayIdOf,
  underlayAddr,
} from './paths.ts'

export type { PathDetail } from './paths.ts'

import { type PortMapClient, portMapClient } from './port-map-client.ts'
import { PortMapper, type PortMappingView } from './port-mapping.ts'
import { RelayGovernor, type RelayGovernorStats } from './relay-governor.ts'
import { type RelayMode, RelayRole } from './relay-role.ts'

export interface ReachabilityInit {
  selfId: string
  log: Logger
  /**
   * Runs the periodic upkeep in the node's heartbeat (ticker.ts). @default a ticker of its own,
   * on its own timer
   */
  ticker?: Ticker
  /**
   * Serve as a member relay: true (always), false (never), or "auto": once a member outside our
   * network dialled us back on an address we announce (relay-role.ts). @default false
   */
  relay?: RelayMode
  /** Hold reservations on member relays and announce them. @default true unless we relay now */
  holdReservations?: boolean
  /**
   * Ask the home router to forward our listening port (UPnP IGD / NAT-PMP, port-mapping.ts) and
   * announce the mapped address. The daemon's default is true (`[nat] port_mapping`). @default false
   */
  portMapping?: boolean
  /**
   * The operator set `announce` addresses: announce exactly libp2p's list. Otherwise our listening
   * port on every interface address is announced too (announceAddrs). @default false
   */
  explicitAnnounce?: boolean
  /** Called with the remote IP before each hole-punch dial (the exit client's bypass). @default none */
  beforeDial?: (ip: string) => Promise<void>
  /**
   * What our member relay forwards for members (relay-governor.ts): a cap on all of it together
   * (`[nat] relay_rate_mbit`), a quota per member per period (`relay_member_quota_mb`,
   * `relay_quota_period`). @default no cap, no quota: equal shares only while the relay is busy
   */
  relayLimits?: RelayLimits
}

/** `[nat] relay_rate_mbit`, `relay_member_quota_mb`, `relay_quota_period`, in bytes and ms. */
export interface RelayLimits {
  /** Bytes per second for all members together; 0: no fixed cap. */
  rateBytesPerSec: number
  /** Bytes per member per period; 0: no quota. */
  quotaBytes: number
  quotaPeriodMs: number
}

/** What reachability reads of the topology: member records and the member relays. */
export interface TopologyView {
  record(peerId: string): NodeRecord | undefined
  /** Records whose `relay` flag is set, each with whether it is online. */
  relays(): Array<{ record: NodeRecord; online: boolean }>
  /** Every member record, each with whether it is online (join strings). @default relays() */
  members?(): Array<{ record: NodeRecord; online: boolean }>
}

export interface ReachabilityComponents {
  /** The libp2p node as reachability sees it (from declared components, or a finished node). */
  host: ReachabilityHost
  topology: TopologyView
  isMember(peerId: string): boolean
  /** False for addresses (multiaddr or IP) inside the overlay subnet. */
  underlay(addr: string): boolean
  /** What we would announce changed (relays, observed mapping): sign and gossip our record. */
  publishRecord(): Promise<void>
  /** A direct connection to a peer appeared: move its tunnel onto it. */
  onDirect(peerId: string, conn: Connection): void
  /** Peers whose tunnel moved packets within `windowMs` (the watchdog pings their direct path). */
  activePeers(windowMs: number): string[]
  /**
   * Registers a callback for a tunnel that starts sending after TUNNEL_ACTIVE_WINDOW_MS of quiet
   * (the pump's `onActive`): the watchdog then sleeps while no tunnel is active.
   * @default none: an idle watchdog looks again every DIRECT_WATCH_IDLE_MS
   */
  onTunnelActive?(listener: (peerId: string) => void): () => void
  /** Bytes of tunnel packets received from a peer so far: a relayed path that delivers is alive. @default 0 */
  rxBytes?(peerId: string): number
  /** @default dialFromPort (tests count dials) */
  dial?: PortDialer
  /** Registers our protocol handlers (the membership gate's). @default host.handle */
  handle?: StreamHandle
  /** The dial-back's TCP connect (tests). @default a real connect from an ephemeral port */
  tcpProbe?: TcpProbe
  /** A member's name for netcheck's sentences. @default its record's name */
  nameOf?(peerId: string): string
  /** The UPnP / NAT-PMP client (tests). @default portMapClient() */
  portMapClient?: PortMapClient
}

export interface Netcheck {
  listen: string[]
  /**
   * The underlay's families: IPv4 and IPv6 listening ports (null: not listening on that family)
   * and the global unicast IPv6 addresses we announce and punch from.
   */
  families: { ipv4: number | null; ipv6: number | null; ipv6Addrs: string[] }
  observed: string[]
  natMapping: string | null
  natPreservesPort: boolean | null
  behindNat: boolean | null
  /** The NAT we are behind (public, nat, symmetric-nat, double-nat …) and why we think so. */
  nat: NatDescription
  /** This node relays for members now. */
  relay: boolean
  /** `relay` in config.toml: "auto", "on" (true) or "off" (false). */
  relayMode: 'auto' | 'on' | 'off'
  /** Why this node relays or not, in a sentence. */
  relayReason: string
  relays: Array<{ peerId: string; name: string; rttMs: number | null; reserved: boolean }>
  /** The router's port mapping for our listening port (UPnP IGD / NAT-PMP). */
  portMapping: PortMappingView
  /** What our member relay forwarded for members, their shares and quotas (null: no relay server). */
  relayUsage: RelayGovernorStats | null
}

export class Reachability {
  private readonly c: ReachabilityComponents
  private readonly log: Logger
  private readonly host: ReachabilityHost
  private readonly adapter: Libp2pAdapter
  private offOpen: (() => void) | null = null
  private offClose: (() => void) | null = null
  private readonly paths: Paths
  private readonly puncher: HolePuncher
  private readonly observed = new ObservedIps()
  private readonly retry = new RetryBackoff()
  private readonly directMisses = new Map<string, number>()
  private readonly relayedMisses = new Map<string, number>()
  private readonly dial: PortDialer
  private nat: NatMapping = UNKNOWN_MAPPING
  private readonly timers: Array<() => void> = []
  private readonly ticker: Ticker
  private relaySoon: NodeJS.Timeout | null = null
  private watchTimer: NodeJS.Timeout | null = null
  /** The watchdog found no active tunnel and waits for `onTunnelActive` instead of a timer. */
  private watchAsleep = false
  private offTunnelActive: (() => void) | undefined
  /** The next relay = "auto" round (scheduleConfirm) and when it fires. */
  private confirmTimer: NodeJS.Timeout | null = null
  private confirmAt = 0
  private running = false
  private readonly relayRole: RelayRole
  private readonly relayServer: boolean
  private readonly selfId: string
  private readonly explicitAnnounce: boolean
  private readonly dialBack: DialBackResponder
  private confirming = false
  /** What our record last said about relaying (an expired confirmation must be announced too). */
  private announcedServing = false
  /** null when `portMapping` is off */
  private readonly portMapper: PortMapper | null
  /** Shares and quotas of what our relay server forwards; null without one. */
  private readonly governor: RelayGovernor | null

  constructor(init: ReachabilityInit, components: ReachabilityComponents) {
    this.c = components
    this.log = init.log
    this.ticker = init.ticker ?? new Ticker()
    this.host = components.host
    this.adapter = components.host.adapter
    const dial = components.dial ?? dialFromPort
    const beforeDial = init.beforeDial
    this.dial =
      beforeDial == null
        ? dial
        : async (o) => {
            await beforeDial(o.remoteAddress)
            return dial(o)
          }
    this.relayRole = new RelayRole(init.relay ?? false)
    // the relay server is part of the libp2p node, built at start: only these modes can change live
    this.relayServer = init.relay === true || init.relay === 'auto'
    this.selfId = init.selfId
    this.explicitAnnounce = init.explicitAnnounce === true
    this.dialBack = new DialBackResponder(components.tcpProbe)
    this.governor = this.relayServer
      ? new RelayGovernor({
          ...init.relayLimits,
          streams: () => this.adapter.relayStreams(),
          ownTraffic: () => this.c.activePeers(TUNNEL_ACTIVE_WINDOW_MS).length > 0,
          log: init.log.child('relay'),
        })
      : null
    this.portMapper =
      init.portMapping === true
        ? new PortMapper({
            client: components.portMapClient ?? portMapClient(),
            log: init.log.child('portmap'),
            listenPort: () => this.listenPort(),
            onChange: () => {
              this.relayRole.wake() // a mapped port is an address members outside can dial back
              this.scheduleConfirm()
              void this.c.publishRecord().catch(() => {})
            },
          })
        : null
    this.paths = new Paths({
      host: this.host,
      log: init.log.child('paths'),
      record: (id) => components.topology.record(id),
      relayCandidates: () =>
        components.topology
          .relays()
          .filter((r) => r.online)
          .map((r) => r.record.peerId),
      holdReservations: () => init.holdReservations ?? !this.relaying(),
      underlay: (addr) => components.underlay(addr),
      sharesNat: (id) => this.sharesNat(id),
    })
    this.puncher = new HolePuncher({
      host: this.host,
      handle: components.handle,
      log: init.log.child('holepunch'),
      selfId: init.selfId,
      listenPort: (family) => this.listenPort(family),
      candidates: () =>
        candidateAddrs({
          observed: this.observed.list(),
          lan: this.lanIps(),
          ipv6: this.ipv6Addrs(),
          port4: this.listenPort('ipv4'),
          port6: this.listenPort('ipv6'),
        }),
      observedIps: () => this.observed.list(),
      isMember: (id) => components.isMember(id),
      underlay: (ip) => components.underlay(ip),
      sharesNat: (id) => this.sharesNat(id),
      peerMappedIps: (id) => this.peerMappedIps(id),
      onResult: (peer, r) => this.onPunchResult(peer, r),
      dial: this.dial,
    })
  }

  async start(): Promise<void> {
    if (this.running) return
    await this.puncher.start()
    const handle: StreamHandle = this.c.handle ?? ((p, h, o) => this.host.handle(p, h, o))
    await handle(DIALBACK_PROTOCOL, (stream, conn) => void this.dialBack.handle(stream, conn), {
      runOnLimitedConnection: false,
      maxInboundStreams: OBSERVE_MAX_STREAMS,
      maxOutboundStreams: OBSERVE_MAX_STREAMS,
    })
    this.offOpen = this.host.onConnectionOpen((conn) => this.onConnectionOpen(conn))
    this.offClose = this.host.onConnectionClose((conn) => this.onConnectionClose(conn))
    this.running = true
    this.timers.push(this.ticker.every(RELAY_MAINTAIN_MS, () => void this.maintainRelays()))
    this.timers.push(this.ticker.every(NAT_PROBE_MS, () => void this.probeNat()))
    this.offTunnelActive = this.c.onTunnelActive?.(() => this.wakeWatch())
    this.scheduleWatch(DIRECT_WATCH_IDLE_MS)
    // the governor's 100 ms tick runs only while we serve (relayChanged): idle CPU, issue 14
    if (this.relaying()) this.governor?.start()
    this.scheduleConfirm()
    setTimeout(() => void this.maintainRelays().then(() => this.probeNat()), FIRST_PROBE_MS).unref()
    // in the background: a router that doesn't answer never holds up start
    this.portMapper?.start()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const cancel of this.timers) cancel()
    this.timers.length = 0
    if (this.watchTimer != null) clearTimeout(this.watchTimer)
    this.watchTimer = null
    this.watchAsleep = false
    this.offTunnelActive?.()
    if (this.confirmTimer != null) clearTimeout(this.confirmTimer)
    this.confirmTimer = null
    if (this.relaySoon != null) clearTimeout(this.relaySoon)
    this.relaySoon = null
    this.offOpen?.()
    this.offOpen = null
    this.offClose?.()
    this.offClose = null
    this.governor?.stop()
    await this.host.unhandle([DIALBACK_PROTOCOL]).catch(() => {})
    // bounded (PORT_UNMAP_TIMEOUT_MS): a router that went away never holds up `down`
    await this.portMapper?.stop()
    await this.puncher.stop()
  }

  // ---- paths --------------------------------------------------------------------------------------

  best(peerId: string): Connection | undefined {
    return this.paths.best(peerId)
  }

  path(peerId: string): PathKind | 'none' {
    return this.paths.path(peerId)
  }

  connect(peerId: string): Promise<Connection> {
    return this.paths.connect(peerId)
  }

  openTunnel(peerId: string): Promise<{ stream: Stream; path: PathKind }> {
    return this.paths.openTunnel(peerId)
  }

  relayOf(peerId: string): string | null {
    return this.paths.relayOf(peerId)
  }

  /** Relay circuit addresses we hold reservations on (announced in our record). */
  circuitAddrs(): string[] {
    return this.paths.circuitAddrs()
  }

  relayRtts(): ReadonlyMap<string, number> {
    return this.paths.relayRtts
  }

  lastDialError(peerId: string): string | undefined {
    return this.paths.lastDialError(peerId)
  }

  // ---- what we know about our NAT -----------------------------------------------------------------

  /** Public IPs members observed for us, most recent first (bounded). */
  observedIps(): string[] {
    return this.observed.list()
  }

  natMapping(): NatMapping {
    return this.nat
  }

  /** The router's port mapping for us, announced in our record's `addrs` (empty without one). */
  mappedAddrs(): string[] {
    return this.portMapper?.externalAddrs() ?? []
  }

  portMapping(): PortMappingView {
    return (
      this.portMapper?.view() ?? { enabled: false, mapping: null, state: 'off ([nat] port_mapping = false)' }
    )
  }

  /** The `observed` field of our record: the mapping our last NAT probe saw. */
  announcedMapping(): string[] {
    return this.nat.mapped != null ? [this.nat.mapped] : []
  }

  punchStats(): PunchStats {
    return this.puncher.stats()
  }

  /**
   * Our underlay addresses for records and join strings (with `/p2p/<us>`): libp2p's announced
   * list, plus — unless the operator set `announce` — our listening port on every IPv4 interface
   * address and every global unicast IPv6 one. libp2p 3 announces a public listen address only once
   * something verified it, and we run no AutoNAT: a member on a public address (a VPS) otherwise
   * announced only loopback. IPv6 that is not global unicast (link-local, ULA, ::1) never leaves
   * (ip-family.ts), announced by the operator or not.
   */
  announceAddrs(): string[] {
    const announced = this.host.getMultiaddrs().map(String)
    const ok = (a: string) => this.c.underlay(a) && announceableFamily(a)
    if (this.explicitAnnounce) return announced.filter(ok)
    const suffix = `/p2p/${this.selfId}`
    const out = new Set(announced)
    for (const l of this.adapter.tcpListenAddrs()) {
      const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)$/.exec(l)
      if (m == null) continue
      const wildcard = m[2] === '0.0.0.0' || m[2] === '::'
      // IPv4 loopback included: members on one host reach each other there
      const ips = !wildcard ? [m[2]] : m[1] === 'ip4' ? hostIpv4s() : hostGlobalIpv6s()
      for (const ip of ips) out.add(`/${m[1]}/${ip}/tcp/${m[3]}${suffix}`)
    }
    return [...out].filter((a) => ok(a) && !/^\/ip4\/169\.254\./.test(a))
  }

  /**
   * The bootstrap addresses of a join string made here now (join-bootstrap.ts): online member
   * relays first, then ours (`self`, default announceAddrs()), then other members' public ones.
   */
  joinBootstrap(self: string[] = this.announceAddrs()): string[] {
    const t = this.c.topology
    const members = (t.members?.() ?? t.relays()).map(({ record, online }) => ({
      peerId: record.peerId,
      addrs: record.addrs,
      relay: record.relay === true,
      online,
    }))
    return joinBootstrap({ peerId: this.selfId, addrs: self }, members)
  }

  /**
   * Our TCP listening port (the one the hole-punch dialer binds) for a family, or null when no
   * listener of that family runs (IPv4 by default: the NAT probe, dial-back and port mapping).
   */
  listenPort(family: IpFamily = 'ipv4'): number | null {
    for (const a of this.adapter.tcpListenAddrs()) {
      if (addrFamily(a) !== family) continue
      const port = Number(/\/tcp\/(\d+)/.exec(a)?.[1])
      if (port > 0) return port
    }
    return null
  }

  /** Our global unicast IPv6 addresses while we listen on IPv6 (hole-punch candidates). */
  ipv6Addrs(): string[] {
    if (this.listenPort('ipv6') == null) return []
    const own = new Set<string>()
    for (const a of this.adapter.tcpListenAddrs()) {
      const ip = /^\/ip6\/([^/]+)\/tcp\//.exec(a)?.[1]
      if (ip == null) continue
      for (const x of ip === '::' ? hostGlobalIpv6s() : [ip]) if (isGlobalIpv6(x)) own.add(x)
    }
    return [...own]
  }

  /** Our own non-loopback IPv4 addresses outside the overlay (LAN candidates). */
  lanIps(): string[] {
    const out = new Set<string>()
    for (const a of this.host.getMultiaddrs()) {
      const t = a.toString()
      const m = /^\/ip4\/([\d.]+)\/tcp\//.exec(t)
      if (m != null && !m[1].startsWith('127.') && !t.includes('/p2p-circuit') && this.c.underlay(m[1]))
        out.add(m[1])
    }
    return [...out]
  }

  /** Why a peer's path is not direct (status and ping). */
  pathDetail(peerId: string): PathDetail {
    const best = this.paths.best(peerId)
    if (best != null && !isRelayed(best))
      return { via: null, why: null, addr: underlayAddr(best), family: connFamily(best) }
    const relay = this.paths.relayOf(peerId)
    const via = relay == null ? null : (this.c.topology.record(relay)?.name ?? relay)
    const hop = relay == null ? undefined : this.paths.best(relay)
    const family = hop == null || isRelayed(hop) ? null : connFamily(hop)
    if (best == null) {
      // idle (no traffic yet) explains nothing; a failed dial does
      if (this.paths.lastDialError(peerId) == null) return { via, why: null, addr: null, family: null }
      const why = this.c.topology.relays().length === 0 ? 'no-relay' : 'punch-failed'
      return { via, why, addr: null, family: null }
    }
    // the NAT behaviour is the root cause when known; a failed punch only says "it didn't work"
    const why: DirectFailure = this.symmetric(peerId)
      ? 'symmetric-nat'
      : (this.paths.directFailures.get(peerId) ?? 'not-tried')
    return { via, why, addr: null, family }
  }

  /** `meshlan netcheck`: reachability, observed addresses, NAT behaviour, relays and RTTs. */
  netcheck(): Netcheck {
    const circuits = this.paths.circuitAddrs()
    const observed = this.observed.list()
    const lan = this.lanIps()
    return {
      listen: this.host
        .getMultiaddrs()
        .map((a) => a.toString())
        .filter((a) => !a.includes('/p2p-circuit') && announceableFamily(a)),
      families: {
        ipv4: this.listenPort('ipv4'),
        ipv6: this.listenPort('ipv6'),
        ipv6Addrs: this.ipv6Addrs(),
      },
      observed,
      natMapping: this.nat.mapped,
      natPreservesPort: this.nat.preservesPort,
      behindNat: observed.length > 0 ? !observed.every((ip) => lan.includes(ip)) : null,
      nat: describeNat({
        observed,
        ownIps: [...new Set([...lan, ...hostIpv4s(false).filter((ip) => this.c.underlay(ip))])],
        probed: this.nat.mapped,
        preservesPort: this.nat.preservesPort,
        listenPort: this.listenPort(),
        mappedIp: this.mappedIps()[0] ?? null,
      }),
      ...this.relayStatus(),
      relays: this.c.topology.relays().map(({ record }) => ({
        peerId: record.peerId,
        name: record.name,
        rttMs: this.paths.relayRtts.get(record.peerId) ?? null,
        reserved: circuits.some((c) => c.includes(record.peerId)),
      })),
      portMapping: this.portMapping(),
      relayUsage: this.relayUsage(),
    }
  }

  /**
   * relay = true/false/"auto" on a running node (config reload). False when the node started with
   * `relay = false`: its libp2p node has no relay server, so turning relaying on needs a restart.
   */
  setRelayMode(mode: RelayMode): boolean {
    if (!this.relayServer && mode !== false) return false
    this.relayRole.setMode(mode)
    void this.confirmRelay().finally(() => this.scheduleConfirm())
    return true
  }

  /** Why our relay must not connect these members now (a quota), or null (the connection gater). */
  relayRefusal(source: string, destination: string): string | null {
    return this.governor?.refusal(source, destination) ?? null
  }

  /** Whether our member relay forwarded bytes for members within `ms` (RelayGovernor). */
  relayedWithin(ms: number): boolean {
    return this.governor?.relayedWithin(ms) ?? false
  }

  /** What our relay forwarded for members (null: no relay server). */
  relayUsage(): RelayGovernorStats | null {
    return this.governor?.stats() ?? null
  }

  /** Whether this node serves as a member relay now (its record's `relay` flag). */
  relaying(): boolean {
    return this.relayRole.serving(Date.now())
  }

  private relayStatus(): Pick<Netcheck, 'relay' | 'relayMode' | 'relayReason'> {
    const st = this.relayRole.status(Date.now(), (p) => this.nameOf(p))
    let reason = st.reason
    const behind = this.behindNatIps()
    if (st.mode === 'auto' && !st.serving && behind.length > 0)
      reason = `auto: not relaying: behind a NAT (members see us at ${behind.join(', ')})`
    return { relay: st.serving, relayMode: st.mode, relayReason: reason }
  }

  private nameOf(peerId: string): string {
    return this.c.nameOf?.(peerId) ?? this.c.topology.record(peerId)?.name ?? peerId
  }

  /**
   * Public IPs members see us at that are none of our own: we are behind a NAT. The router's
   * address counts as ours while it forwards our port to us (a port mapping).
   */
  private behindNatIps(): string[] {
    const own = [...this.lanIps(), ...this.mappedIps()]
    return this.observed.list().filter((ip) => !own.includes(ip))
  }

  private mappedIps(): string[] {
    return this.mappedAddrs()
      .map((a) => /^\/ip4\/([\d.]+)\//.exec(a)?.[1])
      .filter((ip) => ip != null)
  }

  /**
   * The next relay = "auto" round, when the role says one may have something to do: every
   * RELAY_CONFIRM_RETRY_MS while unconfirmed with members to ask, else up to RELAY_CONFIRM_IDLE_MS
   * (a wake() re-arms it at once).
   */
  private scheduleConfirm(): void {
    if (!this.running || !this.relayServer) return
    const now = Date.now()
    const wait = Math.min(
      Math.max(this.relayRole.nextCheck(now) - now, RELAY_CONFIRM_RETRY_MS),
      RELAY_CONFIRM_IDLE_MS,
    )
    // only ever earlier: connections opening every second must not push the round back forever
    if (this.confirmTimer != null && this.confirmAt <= now + wait) return
    if (this.confirmTimer != null) clearTimeout(this.confirmTimer)
    this.confirmAt = now + wait
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = null
      void this.confirmRelay().finally(() => this.scheduleConfirm())
    }, wait)
    this.confirmTimer.unref()
  }

  /**
   * relay = "auto": asks one member outside our network to dial us back (dialback.ts) and
   * serves, or stops serving, by the answer; republishes our record when that changes.
   */
  private async confirmRelay(): Promise<void> {
    const now = Date.now()
    if (!this.running || this.confirming) return
    if (this.relayRole.serving(now) !== this.announcedServing) await this.relayChanged()
    if (!this.relayRole.due(now)) return
    // with a port mapping, members outside reach us at the router's port, not our own
    const mapped = this.portMapper?.current() ?? null
    const port4 = mapped != null ? Number(mapped.external.split('/').pop()) : this.listenPort('ipv4')
    const port6 = this.listenPort('ipv6')
    // behind a NAT nobody outside can dial our announced IPv4 address: nothing to ask (an IPv6
    // address alone does not make a relay IPv4-only members behind NATs could reach)
    if ((port4 == null && port6 == null) || this.behindNatIps().length > 0) {
      this.relayRole.idle(now)
      if (this.relayRole.serving(now) && this.relayRole.fail('self', 'behind a NAT', now))
        await this.relayChanged()
      return
    }
    const outside = new Map<string, Connection>()
    const neighbour = ourSubnets()
    for (const conn of this.host.getConnections()) {
      const peer = conn.remotePeer.toString()
      const ip = remoteIp(conn)
      if (ip == null || conn.status !== 'open' || outside.has(peer) || !this.c.isMember(peer)) continue
      // the member dials back on the family of this connection: we must listen on it
      if ((connFamily(conn) === 'ipv6' ? port6 : port4) == null) continue
      const rec = this.c.topology.record(peer)
      if (rec != null && outsideMember(ip, rec.addrs, neighbour)) outside.set(peer, conn)
    }
    const peer = this.relayRole.pick([...outside.keys()], now)
    const conn = peer == null ? undefined : outside.get(peer)
    if (peer == null || conn == null) {
      if (outside.size === 0) this.relayRole.idle(now)
      return
    }
    const v6 = connFamily(conn) === 'ipv6'
    const port = (v6 ? port6 : port4) ?? 0
    this.relayRole.asking(peer, now)
    this.confirming = true
    try {
      const answer = await askDialBack(conn, port)
      if (answer == null) return
      const ip = /^\/ip[46]\/([^/]+)\//.exec(answer.addr)?.[1]
      const ours =
        ip != null &&
        (v6 ? this.ipv6Addrs().includes(ip) : this.lanIps().includes(ip) || answer.addr === mapped?.external)
      const changed =
        answer.ok && ours
          ? this.relayRole.confirm(peer, answer.addr, Date.now())
          : this.relayRole.fail(
              this.nameOf(peer),
              answer.ok
                ? `reached ${answer.addr}, not an address we announce`
                : `${answer.addr}: ${answer.detail}`,
              Date.now(),
            )
      this.log.debug('dial-back', { by: peer, ok: answer.ok, addr: answer.addr, ours })
      if (changed) await this.relayChanged()
    } finally {
      this.confirming = false
    }
  }

  private async relayChanged(): Promise<void> {
    const st = this.relayStatus()
    this.announcedServing = st.relay
    if (st.relay) this.governor?.start()
    else this.governor?.stop()
    this.log.info(st.relay ? 'serving as a member relay' : 'no longer a member relay', {
      why: st.relayReason,
    })
    await this.c.publishRecord().catch(() => {})
  }

  /** Records changed: a relay that just appeared gets a reservation now, not at the next tick. */
  topologyChanged(): void {
    if (!this.running || this.relaySoon != null || this.paths.circuitAddrs().length > 0) return
    this.relaySoon = setTimeout(() => {
      this.relaySoon = null
      void this.maintainRelays()
    }, RELAY_SOON_MS)
  }

  /** Dials a member relay from our listening port and asks what it sees (see nat-probe.ts). */
  async probeNat(): Promise<void> {
    // relays first: without one there is nothing to probe, and listenPort() lists the listeners'
    // addresses (every interface's, for a wildcard listener) — every RELAY_MAINTAIN_MS while idle
    const relays = this.c.topology.relays().filter((r) => r.online)
    if (!this.running || relays.length === 0) return
    const port = this.listenPort()
    if (port == null) return
    const mapping = await probeNat({
      port,
      relays: relays.map((r) => ({
        peerId: r.record.peerId,
        conn: this.paths.best(r.record.peerId),
        addrs: r.record.addrs,
      })),
      adapter: this.adapter,
      dial: this.dial,
      observe: (conn) => this.puncher.observe(conn),
      onError: (relay, err) => this.log.debug('nat probe failed', { relay, error: err.message }),
    })
    if (mapping == null || mapping.mapped == null) return
    this.nat = mapping
    const ip = mappingIp(mapping.mapped)
    if (ip != null && !this.lanIps().includes(ip)) this.observed.add(ip, Date.now())
    this.log.info('nat probe', { mapped: mapping.mapped, preservesPort: mapping.preservesPort })
    await this.c.publishRecord().catch(() => {})
  }

  // ---- internals ----------------------------------------------------------------------------------

  private onConnectionOpen(conn: Connection): void {
    if (!this.running) return
    this.relayRole.wake()
    this.scheduleConfirm()
    const peer = conn.remotePeer.toString()
    if (!isRelayed(conn)) {
      this.c.onDirect(peer, conn)
      if (conn.direction === 'outbound') void this.learnObserved(conn)
    } else {
      // behind our own NAT the peer is on our LAN: dial it there, no punching needed
      if (this.sharesNat(peer)) setTimeout(() => void this.lanRedial(peer), PUNCH_AFTER_RELAYED_MS).unref()
      // a member reached us through a relay: we are "B" and start hole punching
      if (conn.direction === 'inbound')
        setTimeout(() => void this.maybePunch(conn), PUNCH_AFTER_RELAYED_MS).unref()
    }
  }

  /**
   * A direct connection closed (our watchdog, the peer's, or the path died): the way back to direct
   * is a new punch once things settle. Only B — the side with the inbound relayed connection —
   * initiates (punchAgain finds it), so both sides listen here: before, only the side whose own
   * watchdog fired scheduled it, and when that was A, nobody punched again (the tunnel stayed on
   * the relay for good, found by the path-change lab test).
   */
  private onConnectionClose(conn: Connection): void {
    if (!this.running || isRelayed(conn)) return
    const peer = conn.remotePeer.toString()
    if (!this.c.isMember(peer) || this.paths.path(peer) === 'direct') return
    setTimeout(() => this.punchAgain(peer), REPUNCH_AFTER_FALLBACK_MS).unref()
  }

  /** Whether a peer sits behind the same NAT as we do (its signed mapping is one of our IPs). */
  private sharesNat(peerId: string): boolean {
    return this.peerMappedIps(peerId).some((ip) => this.observed.has(ip))
  }

  private peerMappedIps(peerId: string): string[] {
    const out: string[] = []
    for (const o of this.c.topology.record(peerId)?.observed ?? []) {
      const ip = mappingIp(o)
      if (ip != null) out.push(ip)
    }
    return out
  }

  private symmetric(peerId: string): boolean {
    return this.nat.preservesPort === false || peerIsSymmetric(this.c.topology.record(peerId))
  }

  /** Asks a member which public address our connection comes from (members only: bounded). */
  private async learnObserved(conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString()
    if (!this.c.isMember(id)) return
    const seen = await this.puncher.observe(conn)
    const ip = seen == null ? null : /^\/ip4\/([\d.]+)\//.exec(seen)?.[1]
    if (ip == null || this.lanIps().includes(ip)) return
    if (!this.observed.add(ip, Date.now())) return
    this.log.info('observed public address', { ip, by: id })
    await this.c.publishRecord().catch(() => {})
  }

  private async maybePunch(conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    if (!this.running || conn.status !== 'open' || !this.c.isMember(peer)) return
    if (this.paths.path(peer) === 'direct') return
    if (this.retry.waiting(peer, Date.now())) return
    await this.puncher.initiate(conn)
  }

  private onPunchResult(peer: string, r: PunchResult): void {
    if (r.ok) {
      this.retry.succeed(peer)
      this.paths.directFailures.delete(peer)
      this.log.info('hole punched: direct connection', { peer, ms: Math.round(r.ms), addr: r.addr })
      return
    }
    const delay = this.retry.fail(peer, Date.now())
    const reason: DirectFailure = this.symmetric(peer) ? 'symmetric-nat' : 'punch-failed'
    this.paths.directFailures.set(peer, reason)
    this.log.info('hole punch failed', { peer, reason, detail: r.detail, retryInMs: delay })
    // retry while the relayed path exists
    setTimeout(() => this.punchAgain(peer), delay).unref()
  }

  /**
   * A peer behind our own NAT that we reach only through a relay (its record's mapping arrived
   * after the first dial, or the watchdog dropped the LAN path): dial its LAN addresses again.
   * Either side may do it; a second direct connection is harmless (the oldest direct one wins).
   */
  private async lanRedial(peer: string): Promise<void> {
    if (!this.running || this.paths.path(peer) === 'direct' || !this.c.isMember(peer)) return
    try {
      const conn = await this.paths.dialDirect(peer)
      if (conn != null)
        this.log.info('direct over the LAN (same NAT)', { peer, addr: conn.remoteAddr.toString() })
    } catch (err) {
      this.log.debug('LAN redial failed', { peer, error: (err as Error).message })
    }
  }

  /** B's side again, on the relayed connection the peer opened to us, if it is still there. */
  private punchAgain(peer: string): void {
    if (!this.running) return
    if (this.sharesNat(peer)) void this.lanRedial(peer)
    const conn = this.host
      .getConnections(peerIdOf(peer))
      .find((c) => isRelayed(c) && c.direction === 'inbound')
    if (conn != null) void this.maybePunch(conn)
  }

  private async maintainRelays(): Promise<void> {
    if (!this.running) return
    if (this.paths.relaysIdle()) {
      if (this.nat.mapped == null) await this.probeNat()
      return
    }
    const before = this.paths.circuitAddrs().join(',')
    await this.paths.maintainReservations().catch((err: Error) => {
      this.log.debug('relay maintenance failed', { error: err.message })
    })
    if (this.paths.circuitAddrs().join(',') !== before) await this.c.publishRecord().catch(() => {})
    // our NAT still unknown (no relay existed at start: relay = "auto" makes one later): probe
    // now, not in NAT_PROBE_MS, so hole punching has our public mapping as a candidate
    if (this.running && this.nat.mapped == null) await this.probeNat()
  }

  /**
   * Direct paths carrying tunnels are pinged often; two misses in a row close the connection so
   * the tunnel falls back to the relay (the relayed connection stays open for that).
   */
  private scheduleWatch(ms: number): void {
    this.watchTimer = setTimeout(() => {
      this.watchTimer = null
      const began = Date.now()
      void this.watchDirectPaths().then((active) => {
        if (!this.running) return
        // a tunnel that started during the round (its wake-up was ignored: a round ran) counts
        if (active || this.c.activePeers(TUNNEL_ACTIVE_WINDOW_MS).length > 0) {
          // one round at a time; rounds DIRECT_WATCH_MS apart from their starts while tunnels run
          this.scheduleWatch(Math.max(0, DIRECT_WATCH_MS - (Date.now() - began)))
        } else if (this.c.onTunnelActive != null) {
          // nothing to watch: sleep until the pump says a tunnel started (idle CPU, issue 14)
          this.watchAsleep = true
        } else {
          this.scheduleWatch(DIRECT_WATCH_IDLE_MS)
        }
      })
    }, ms)
    this.watchTimer.unref()
  }

  /** A tunnel started sending: a sleeping watchdog runs a round now. */
  private wakeWatch(): void {
    if (!this.running || !this.watchAsleep) return
    this.watchAsleep = false
    this.scheduleWatch(0)
  }

  /** Whether the watchdog sleeps until a tunnel starts (tests). */
  get watchdogAsleep(): boolean {
    return this.watchAsleep
  }

  /** One watchdog round; whether any tunnel was active. */
  private async watchDirectPaths(): Promise<boolean> {
    if (!this.running) return false
    const active = this.c.activePeers(TUNNEL_ACTIVE_WINDOW_MS)
    let ourRelays: number | undefined // read once per round: it walks libp2p's address list
    for (const peerId of active) {
      const conn = this.paths.best(peerId)
      if (conn == null) continue
      if (isRelayed(conn)) {
        await this.watchRelayedPath(peerId, conn)
        continue
      }
      // nothing to fall back on: no relay on either side
      if ((this.c.topology.record(peerId)?.relays.length ?? 0) === 0) {
        ourRelays ??= this.paths.circuitAddrs().length
        if (ourRelays === 0) continue
      }
      try {
        await pingConnection(conn, DIRECT_WATCH_TIMEOUT_MS)
        this.directMisses.delete(peerId)
      } catch {
        const misses = (this.directMisses.get(peerId) ?? 0) + 1
        this.directMisses.set(peerId, misses)
        if (misses < DIRECT_MISSES_TO_FALLBACK) continue
        this.directMisses.delete(peerId)
        this.log.info('direct path dead, falling back to the relay', { peer: peerId })
        // the way back, a new punch, follows the close (onConnectionClose, on both sides)
        conn.abort(new Error('direct path stopped answering'))
      }
    }
    return active.length > 0
  }

  /**
   * A relay that silently stopped forwarding (its host black-holed, not closed) would hold a
   * relayed tunnel until yamux's keepalive gives up (~130 s). When the peer announces another
   * relay, each round pings the relayed connection and our connection to the relay at once; a round
   * in which the ping went unanswered and no tunnel packet arrived from the peer is a miss (a slow
   * relay under load still delivers: not a miss). Two misses drop the relayed connection, and our
   * connection to the relay if it did not answer either (so the redial ranks it last); the tunnel
   * redials through the next relay.
   */
  private async watchRelayedPath(peerId: string, conn: Connection): Promise<void> {
    const relay = this.paths.relayOf(peerId)
    const relays = new Set((this.c.topology.record(peerId)?.relays ?? []).map(relayIdOf))
    relays.delete(null)
    if (relay == null || relays.size < 2) return // nowhere else to go: keep what we have
    const toRelay = this.paths.best(relay)
    const answers = (c: Connection | undefined): Promise<boolean> =>
      c == null
        ? Promise.resolve(false)
        : pingConnection(c, RELAYED_WATCH_TIMEOUT_MS).then(
            () => true,
            () => false,
          )
    // packets from the peer prove this path only while it is the peer's one connection: once the
    // peer redialled through another relay, its packets arrive there and this one may be dead
    const only = this.host.getConnections(conn.remotePeer).length === 1
    const rx = this.c.rxBytes?.(peerId) ?? 0
    const [pathAnswers, relayAnswers] = await Promise.all([answers(conn), answers(toRelay)])
    if (pathAnswers || (only && (this.c.rxBytes?.(peerId) ?? 0) > rx)) {
      this.relayedMisses.delete(peerId)
      return
    }
    const misses = (this.relayedMisses.get(peerId) ?? 0) + 1
    this.relayedMisses.set(peerId, misses)
    if (misses < DIRECT_MISSES_TO_FALLBACK) return
    this.relayedMisses.delete(peerId)
    this.log.info('relayed path dead, redialling through another relay', {
      peer: peerId,
      relay,
      relayAnswers,
    })
    if (!relayAnswers) toRelay?.abort(new Error('relay stopped answering'))
    conn.abort(new Error('relayed path stopped answering'))
  }
}

export function createReachability(init: ReachabilityInit, components: ReachabilityComponents): Reachability {
  return new Reachability(init, components)
}

/** What the reachability service declares of the other meshlan services (all earlier in the map). */
export interface ReachabilityServiceComponents extends ReachabilityHostComponents {
  membership: MembershipService
  topology: TopologyService
  tunnel: TunnelService
}

/**
 * The libp2p service factory: `services: { …, reachability: reachability(init) }`, after membership,
 * topology and tunnel, whose parts it reads (records and relays, who is admitted, the tunnel's
 * active peers) instead of reaching into the node.
 */
export function reachability(
  init: ReachabilityInit,
): (components: ReachabilityServiceComponents) => Reachability {
  return (c) => {
    const { membership: m, topology: t, tunnel: tu } = c
    // the tunnel's pump is fixed at its construction (readonly): read it once
    const pump = tu.pump
    const reach = new Reachability(init, {
      host: hostOfComponents(c),
      topology: {
        record: (id) => t.get(id)?.record,
        relays: () =>
          t
            .all()
            .filter((n) => n.record.relay === true)
            .map((n) => ({ record: n.record, online: t.isOnline(n) })),
        members: () => t.all().map((n) => ({ record: n.record, online: t.isOnline(n) })),
      },
      isMember: (id) => id === init.selfId || m.gate.isAdmitted(id) || t.get(id) != null,
      underlay: (addr) => isUnderlay(addr, m.store.policy?.subnet ?? null),
      publishRecord: () => t.publishIfChanged(),
      onDirect: (peer, conn) => void tu.moveToDirect(peer, conn),
      activePeers: (ms) => pump?.activePeers(ms) ?? [],
      onTunnelActive: pump == null ? undefined : (fn) => pump.onActive(fn),
      rxBytes: (id) => pump?.rxBytes(id) ?? 0,
      handle: (protocol, handler, options) => m.gate.handle(protocol, handler, options),
    })
    t.on('change', () => reach.topologyChanged())
    return reach
  }
}
