/**
 * The opt-in Prometheus endpoint (`[metrics] listen`): `GET /metrics` (and HEAD) on a node:http
 * server, rendered by prom-client. Nothing is counted on the packet path: every scrape takes one
 * snapshot of what the node already keeps (status, the pump's per-link counters and drops, the
 * hole puncher's counters, netcheck's relays, the policy version) and sets the metrics from it.
 * Peers are bounded by the network's member cap; their labels are the name and the peer id.
 *
 * prom-client is loaded on the first start, so a daemon without `[metrics]` never loads it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger, MeshNode } from '@meshlan/mesh'
import type { Counter, Gauge, Registry } from 'prom-client'
import { type MetricsListen, metricsBind, parseMetricsListen } from './metrics-listen.ts'

/** What a scrape reads of the node: one snapshot, taken when Prometheus asks. */
export interface MetricsSnapshot {
  self: { name: string; peerId: string; networkId: string; policyVersion: number }
  peers: Array<{
    name: string
    peerId: string
    path: 'direct' | 'relay' | 'none'
    /** Why the path is not direct (symmetric-nat, punch-failed, …), or null. */
    why: string | null
    rttMs: number | null
    online: boolean
    rxBytes: number
    txBytes: number
    rxPackets: number
    txPackets: number
    /** The peer link's own drops (queue full, bad frames from it). */
    drops: number
  }>
  /** Drops by reason: the pump's and the membership gate's (as in `status --json`). */
  drops: Record<string, number>
  /** The hole puncher's counters (reachability `punchStats()`), by name. */
  punch: Record<string, number>
  relay: {
    /** This node serves as a member relay now. */
    serving: boolean
    relays: Array<{ name: string; peerId: string; reserved: boolean; rttMs: number | null }>
    /** What our relay forwarded per member (bounded by the governor's account table); [] without one. */
    members: Array<{
      name: string
      peerId: string
      bytes: number
      throttled: number
      quotaCuts: number
      quotaRefused: number
    }>
  }
}

/** A snapshot of a running node (null when the daemon runs no node: no network yet). */
export type MetricsSource = () => MetricsSnapshot | null

/** Reads a running MeshNode's own views; nothing here changes the node. */
export function snapshotOf(node: MeshNode): MetricsSnapshot {
  const st = node.status()
  const services = node.libp2pNode.services
  const links = new Map((services.tunnel.pump?.linkStats() ?? []).map((l) => [l.peerId, l]))
  const nc = node.netcheck()
  return {
    self: {
      name: st.self.name,
      peerId: st.self.peerId,
      networkId: st.self.network.id,
      policyVersion: st.self.network.policyVersion,
    },
    peers: st.peers.map((p) => {
      const l = links.get(p.peerId)
      return {
        name: p.name,
        peerId: p.peerId,
        path: p.path,
        why: p.why,
        rttMs: p.rttMs,
        online: p.online,
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
        rxPackets: l?.rxPackets ?? 0,
        txPackets: l?.txPackets ?? 0,
        drops: l?.drops ?? 0,
      }
    }),
    drops: st.drops,
    punch: { ...services.reachability.punchStats() },
    relay: {
      serving: nc.relay,
      relays: nc.relays.map((r) => ({
        name: r.name,
        peerId: r.peerId,
        reserved: r.reserved,
        rttMs: r.rttMs,
      })),
      members: (nc.relayUsage?.members ?? []).map((m) => ({
        name: services.topology.get(m.peerId)?.record.name ?? m.peerId,
        peerId: m.peerId,
        bytes: m.bytes,
        throttled: m.throttled,
        quotaCuts: m.quotaCuts,
        quotaRefused: m.quotaRefused,
      })),
    },
  }
}

export interface MetricsSettings {
  listen: string | null
  expose: boolean
}

/** `dials` → `dials`, `refusedNotMember` → `refused_not_member`. */
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

type Prom = typeof import('prom-client')

/** The metrics, registered once per server and set from each snapshot. */
class MeshMetrics {
  readonly registry: Registry
  private readonly source: MetricsSource
  private readonly up: Gauge
  private readonly info: Gauge
  private readonly policyVersion: Gauge
  private readonly peers: Gauge
  private readonly peerOnline: Gauge
  private readonly peerPath: Gauge
  private readonly peerRtt: Gauge
  private readonly rxBytes: Counter
  private readonly txBytes: Counter
  private readonly rxPackets: Counter
  private readonly txPackets: Counter
  private readonly peerDrops: Counter
  private readonly drops: Counter
  private readonly punch: Counter
  private readonly relayServing: Gauge
  private readonly relayReservations: Gauge
  private readonly relayReserved: Gauge
  private readonly relayRtt: Gauge
  private readonly relayedBytes: Counter
  private readonly relayThrottled: Counter
  private readonly relayQuota: Counter

  constructor(prom: Prom, source: MetricsSource) {
    this.source = source
    const registry = new prom.Registry()
    this.registry = registry
    prom.collectDefaultMetrics({ register: registry })
    const registers = [registry]
    const peer = ['peer', 'peer_id'] as const
    const gauge = (name: string, help: string, labelNames: readonly string[] = []) =>
      new prom.Gauge({ name, help, labelNames, registers })
    const counter = (name: string, help: string, labelNames: readonly string[] = []) =>
      new prom.Counter({ name, help, labelNames, registers })
    this.up = gauge('meshlan_node_up', '1 when the daemon runs a node (it has a network), else 0')
    this.info = gauge('meshlan_node_info', 'This node: value 1, labels name, peer id and network id', [
      'name',
      'peer_id',
      'network_id',
    ])
    this.policyVersion = gauge('meshlan_policy_version', 'Version of the network policy this node holds')
    this.peers = gauge('meshlan_peers', 'Members this node knows, by current path', ['path'])
    this.peerOnline = gauge('meshlan_peer_online', '1 when the member is online (a fresh record)', peer)
    this.peerPath = gauge(
      'meshlan_peer_path',
      'Value 1; labels: the current path to the member (direct, relay, none) and why it is not direct',
      [...peer, 'path', 'why'],
    )
    this.peerRtt = gauge('meshlan_peer_rtt_seconds', 'Last overlay RTT to the member (when measured)', peer)
    this.rxBytes = counter('meshlan_peer_rx_bytes_total', 'Tunnel bytes received from the member', peer)
    this.txBytes = counter('meshlan_peer_tx_bytes_total', 'Tunnel bytes sent to the member', peer)
    this.rxPackets = counter('meshlan_peer_rx_packets_total', 'Tunnel packets received from the member', peer)
    this.txPackets = counter('meshlan_peer_tx_packets_total', 'Tunnel packets sent to the member', peer)
    this.peerDrops = counter('meshlan_peer_drops_total', "Packets dropped on the member's link", peer)
    this.drops = counter('meshlan_drops_total', 'Packets and streams dropped, by reason', ['reason'])
    this.punch = counter(
      'meshlan_holepunch_events_total',
      'Hole punching: dials started, wins via our listener, exchanges refused, candidates left out',
      ['event'],
    )
    this.relayServing = gauge('meshlan_relay_serving', '1 when this node serves as a member relay now')
    this.relayReservations = gauge(
      'meshlan_relay_reservations',
      'Reservations this node holds on member relays',
    )
    this.relayReserved = gauge('meshlan_relay_reserved', '1 when we hold a reservation on the relay', [
      'relay',
      'relay_id',
    ])
    this.relayRtt = gauge('meshlan_relay_rtt_seconds', 'Last RTT to the member relay', ['relay', 'relay_id'])
    this.relayedBytes = counter(
      'meshlan_relay_member_bytes_total',
      'Bytes our member relay forwarded for the member (its uploads through us)',
      peer,
    )
    this.relayThrottled = counter(
      'meshlan_relay_member_throttled_total',
      'Times our member relay paused the member for using up its fair share',
      peer,
    )
    this.relayQuota = counter(
      'meshlan_relay_member_quota_total',
      'Circuits of the member our relay cut (cut) or refused (refused) for its relay quota',
      [...peer, 'event'],
    )
  }

  /** Sets every meshlan metric from one snapshot (series of peers that left disappear). */
  refresh(): void {
    const s = this.source()
    for (const m of [
      this.info,
      this.policyVersion,
      this.peers,
      this.peerOnline,
      this.peerPath,
      this.peerRtt,
      this.rxBytes,
      this.txBytes,
      this.rxPackets,
      this.txPackets,
      this.peerDrops,
      this.drops,
      this.punch,
      this.relayServing,
      this.relayReservations,
      this.relayReserved,
      this.relayRtt,
      this.relayedBytes,
      this.relayThrottled,
      this.relayQuota,
    ])
      m.reset()
    this.up.set(s == null ? 0 : 1)
    if (s == null) return
    this.info.set({ name: s.self.name, peer_id: s.self.peerId, network_id: s.self.networkId }, 1)
    this.policyVersion.set(s.self.policyVersion)
    const byPath = { direct: 0, relay: 0, none: 0 }
    for (const p of s.peers) {
      const l = { peer: p.name, peer_id: p.peerId }
      byPath[p.path]++
      this.peerOnline.set(l, p.online ? 1 : 0)
      this.peerPath.set({ ...l, path: p.path, why: p.why ?? '' }, 1)
      if (p.rttMs != null) this.peerRtt.set(l, p.rttMs / 1000)
      this.rxBytes.inc(l, p.rxBytes)
      this.txBytes.inc(l, p.txBytes)
      this.rxPackets.inc(l, p.rxPackets)
      this.txPackets.inc(l, p.txPackets)
      this.peerDrops.inc(l, p.drops)
    }
    for (const [path, n] of Object.entries(byPath)) this.peers.set({ path }, n)
    for (const [reason, n] of Object.entries(s.drops)) this.drops.inc({ reason }, n)
    for (const [event, n] of Object.entries(s.punch)) this.punch.inc({ event: snake(event) }, n)
    this.relayServing.set(s.relay.serving ? 1 : 0)
    this.relayReservations.set(s.relay.relays.filter((r) => r.reserved).length)
    for (const r of s.relay.relays) {
      const l = { relay: r.name, relay_id: r.peerId }
      this.relayReserved.set(l, r.reserved ? 1 : 0)
      if (r.rttMs != null) this.relayRtt.set(l, r.rttMs / 1000)
    }
    for (const m of s.relay.members) {
      const l = { peer: m.name, peer_id: m.peerId }
      this.relayedBytes.inc(l, m.bytes)
      this.relayThrottled.inc(l, m.throttled)
      this.relayQuota.inc({ ...l, event: 'cut' }, m.quotaCuts)
      this.relayQuota.inc({ ...l, event: 'refused' }, m.quotaRefused)
    }
  }
}

export interface MetricsServerInit {
  source: MetricsSource
  log: Logger
}

/**
 * The endpoint's life: `apply()` (re)binds it to what `[metrics]` says (idempotent: called at start,
 * when the overlay address arrives and on reload), `stop()` closes it. Never throws: a refused or
 * busy address is logged and the daemon goes on without metrics.
 */
export class MetricsServer {
  private readonly init: MetricsServerInit
  private metrics: MeshMetrics | null = null
  private server: Server | null = null
  private bound: { host: string; port: number } | null = null
  private work: Promise<void> = Promise.resolve()
  /** The last refusal logged (not repeated on every address change). */
  private refused: string | null = null

  constructor(init: MetricsServerInit) {
    this.init = init
  }

  /** Where the endpoint listens now (the port is the real one when 0 was asked), or null. */
  get address(): { host: string; port: number } | null {
    const a = this.server?.address()
    return a == null || typeof a === 'string' ? null : { host: a.address, port: a.port }
  }

  apply(settings: MetricsSettings, overlayIp: string | null): Promise<void> {
    this.work = this.work.then(() => this.doApply(settings, overlayIp))
    return this.work
  }

  stop(): Promise<void> {
    this.work = this.work.then(() => this.close())
    return this.work
  }

  private async doApply(settings: MetricsSettings, overlayIp: string | null): Promise<void> {
    const parsed: MetricsListen | string | null =
      settings.listen == null ? null : parseMetricsListen(settings.listen)
    const want =
      parsed == null
        ? null
        : typeof parsed === 'string'
          ? { refused: `${settings.listen}: ${parsed}` }
          : metricsBind(parsed, settings.expose, overlayIp)
    if (want != null && 'refused' in want) {
      if (this.refused !== want.refused) this.init.log.error('metrics not served', { why: want.refused })
      this.refused = want.refused
      await this.close()
      return
    }
    this.refused = null
    if (want?.host === this.bound?.host && want?.port === this.bound?.port && this.server != null) return
    await this.close()
    if (want == null) return
    if (this.metrics == null) this.metrics = new MeshMetrics(await import('prom-client'), this.init.source)
    const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
      void this.handle(req, res)
    })
    server.maxConnections = 32
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: want.host, port: want.port }, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      this.init.log.error('metrics not served: cannot listen', {
        listen: settings.listen,
        error: e.code ?? e.message,
      })
      return
    }
    server.on('error', (err) => this.init.log.warn('metrics server error', { error: err.message }))
    this.server = server
    this.bound = want
    const a = this.address
    this.init.log.info('serving metrics', {
      url: `http://${fmtHost(a?.host ?? want.host)}:${a?.port}/metrics`,
    })
  }

  private async close(): Promise<void> {
    const server = this.server
    this.server = null
    this.bound = null
    if (server == null) return
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    this.init.log.info('metrics server stopped')
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n')
      return
    }
    if (path !== '/metrics' || this.metrics == null) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /metrics\n')
      return
    }
    try {
      this.metrics.refresh()
      const body = await this.metrics.registry.metrics()
      res.writeHead(200, {
        'Content-Type': this.metrics.registry.contentType,
        'Content-Length': Buffer.byteLength(body),
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (err) {
      this.init.log.warn('metrics scrape failed', { error: (err as Error).message })
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('scrape failed\n')
    }
  }
}

function fmtHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}
