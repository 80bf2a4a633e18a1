/**
 * The tunnel service (a js-libp2p service): the stream gate of the data plane and the pump.
 * A tunnel stream is accepted only from an admitted member whose entry in the peer table allows a
 * tunnel at all (either side's ACL reaches the other); every packet is then checked again by that
 * peer's compiled filter in the pump. `apply()` turns a new peer table into filters and routes:
 * overlay /32s, the approved routes each peer is primary for, 0.0.0.0/0 to the exit node we use,
 * and what we serve ourselves (our approved routes, our exit-node approval).
 */

import type { Connection, Stream } from '@libp2p/interface'
import { parseCidr } from '@meshlan/wire'
import {
  type Conntrack,
  createConntrack,
  createPacketFilter,
  mayOpenStream,
  type PacketFilter,
  type StreamRouting,
} from '../acl/index.ts'
import { CONNTRACK_SWEEP_MS, TUNNEL_OPEN_TIMEOUT_MS, TUNNEL_PROTOCOL } from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { MembershipService } from '../membership/service.ts'
import type { PeerEntry, PeerTable } from '../peer-table.ts'
import { type PacketDevice, type Prefix, Pump, refuseStream, type TunnelStream } from '../pump.ts'
import { Ticker } from '../ticker.ts'

export interface TunnelInit {
  /** The packet device; null for a control-plane-only node (tests). */
  device: PacketDevice | null
  /** The TUN's MTU: bounds the segment size a peer's super-packets may ask for. @default DEFAULT_MTU */
  mtu?: number
  /** Opens our outbound tunnel stream to a peer on its best path. */
  openStream(peerId: string): Promise<TunnelStream>
  /** Our final name, for refusal messages. */
  selfName(): string
  /**
   * Runs the periodic upkeep in the node's heartbeat (ticker.ts). @default a ticker of its own,
   * on its own timer
   */
  ticker?: Ticker
  log: Logger
}

export interface TunnelComponents {
  membership: MembershipService
}

interface Link {
  entry: PeerEntry
  filter: PacketFilter | null
  /** What the filter was built for besides the two addresses (a change rebuilds it). */
  routingKey: string
}

/** A prefix as the peer table gives it: a CIDR text or already parsed. */
type PrefixLike = string | { base: number; prefix: number }

/**
 * The routing fields of the peer table (issue 9 spec). They are read through this view, optional,
 * so the data plane works with a table that does not carry them (nothing routed, no exit).
 */
type RoutedEntry = PeerEntry & {
  routes?: readonly PrefixLike[]
  allRoutes?: readonly PrefixLike[]
  exitNode?: boolean
}
type RoutedTable = PeerTable & {
  exit?: { peerId: string } | null
  subnet?: PrefixLike
}
type RoutedSelf = NonNullable<PeerTable['self']> & {
  routes?: { advertised?: readonly PrefixLike[]; approved?: readonly PrefixLike[] }
  exitNode?: boolean
}

function toPrefixes(list: readonly PrefixLike[] | undefined): Prefix[] {
  const out: Prefix[] = []
  for (const p of list ?? []) {
    const x = toPrefix(p)
    if (x != null) out.push(x)
  }
  return out
}

function toPrefix(p: PrefixLike | undefined): Prefix | null {
  if (p == null) return null
  if (typeof p !== 'string') return { base: p.base >>> 0, prefix: p.prefix }
  const c = parseCidr(p)
  return c.ok ? { base: c.base, prefix: c.prefix } : null
}

export class TunnelService {
  private readonly init: TunnelInit
  private readonly c: TunnelComponents
  readonly pump: Pump | null
  private readonly conntrack: Conntrack = createConntrack()
  private readonly links = new Map<string, Link>()
  private selfIp = 0
  private sweep: (() => void) | null = null

  constructor(init: TunnelInit, components: TunnelComponents) {
    this.init = init
    this.c = components
    this.pump =
      init.device == null
        ? null
        : new Pump(
            { log: init.log.child('pump'), mtu: init.mtu },
            { device: init.device, openStream: init.openStream },
          )
    components.membership.gate.on('expelled', (peer, why) => this.remove(peer, why))
  }

  async start(): Promise<void> {
    await this.c.membership.gate.handle(TUNNEL_PROTOCOL, (s, c) => this.onStream(s, c), {
      runOnLimitedConnection: true,
      maxInboundStreams: 8,
      maxOutboundStreams: 8,
    })
    this.pump?.start()
    this.sweep = (this.init.ticker ?? new Ticker()).every(CONNTRACK_SWEEP_MS, () =>
      this.conntrack.sweep(Date.now()),
    )
  }

  stop(): void {
    this.sweep?.()
    this.sweep = null
    this.pump?.stop()
  }

  get peers(): ReadonlyMap<string, Link> {
    return this.links
  }

  /** Makes the data plane follow a new peer table: filters swapped in place, routes updated. */
  apply(table: PeerTable): void {
    const routed = table as RoutedTable
    const self = table.self as RoutedSelf | null
    const selfIp = self?.ip ?? 0
    if (selfIp !== this.selfIp) {
      this.selfIp = selfIp
      this.pump?.setSelfIp(selfIp)
    }
    // what we serve: only approved routes (an advertisement alone routes nothing)
    const selfRoutes = toPrefixes(self?.routes?.approved)
    const selfExit = self?.exitNode === true
    this.pump?.setSelfRouting({ routes: selfRoutes, exitNode: selfExit, overlay: toPrefix(routed.subnet) })
    const exitPeer = routed.exit?.peerId ?? null
    const member = table.outbound != null
    for (const e of table.peers.values()) {
      const entry = e as RoutedEntry
      const link = this.links.get(entry.peerId)
      const peerRoutes = toPrefixes(entry.allRoutes ?? entry.routes)
      const routing: StreamRouting = {
        selfRoutes,
        selfExit,
        peerRoutes,
        // the exit node we use, and only if the table says it is approved as one
        peerExit: exitPeer === entry.peerId && entry.exitNode !== false,
      }
      const routingKey = JSON.stringify(routing)
      let filter: PacketFilter | null = null
      // the table's `allowed` considers the overlay addresses; routes and exit may add a purpose
      const allowed = entry.allowed || mayOpenStream(selfIp, entry.ip, entry.inbound, table.outbound, routing)
      if (member && allowed) {
        const old = link?.filter
        if (
          old != null &&
          old.peerIp === entry.ip &&
          old.selfIp === selfIp &&
          link?.routingKey === routingKey
        ) {
          old.replace(entry.inbound, table.outbound)
          filter = old
        } else {
          // flows live in the shared conntrack keyed by the peer's address: a new filter keeps them
          filter = createPacketFilter({
            selfIp,
            peerIp: entry.ip,
            inbound: entry.inbound,
            outbound: table.outbound,
            conntrack: this.conntrack,
            ...routing,
          })
        }
      }
      this.links.set(entry.peerId, { entry, filter, routingKey })
      // not a member (any more): nothing may flow, though routes stay for status
      this.pump?.upsertPeer(entry.peerId, entry.ip, filter, {
        routes: toPrefixes(entry.routes),
        sources: peerRoutes,
      })
    }
    for (const peerId of [...this.links.keys()]) {
      if (!table.peers.has(peerId)) this.remove(peerId, 'no longer a member')
    }
    this.pump?.setExitPeer(exitPeer != null && this.links.has(exitPeer) ? exitPeer : null)
  }

  remove(peerId: string, why: string): void {
    if (!this.links.delete(peerId)) return
    this.pump?.removePeer(peerId, why)
    this.init.log.info('peer removed from the data plane', { peer: peerId, reason: why })
  }

  /** A direct connection appeared: move that peer's relayed tunnel onto it without a gap. */
  async moveToDirect(peerId: string, conn: Connection): Promise<void> {
    if (this.pump == null || !this.links.has(peerId) || !this.pump.hasRelayedOutbound(peerId)) return
    try {
      const stream = await conn.newStream(TUNNEL_PROTOCOL, {
        signal: AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS),
      })
      this.pump.replaceOutbound(peerId, stream, 'direct')
      this.init.log.info('tunnel moved to a direct connection', { peer: peerId })
    } catch (err) {
      this.init.log.debug('tunnel upgrade failed', { peer: peerId, error: (err as Error).message })
    }
  }

  private onStream(stream: Stream, conn: Connection): void {
    const peer = conn.remotePeer.toString()
    if (this.pump == null) {
      refuseStream(stream, 'NO_DATA_PLANE', 'this node has no data plane')
      return
    }
    const link = this.links.get(peer)
    if (link == null) {
      refuseStream(stream, 'NOT_MEMBER', 'no valid membership record for your node here')
      return
    }
    if (link.filter == null) {
      refuseStream(
        stream,
        'ACL',
        `key ${link.entry.membership.keyName} may reach nothing on ${this.init.selfName()}, and nothing here reaches you`,
      )
      return
    }
    this.pump.acceptInbound(peer, stream)
  }
}

/** The libp2p service factory: `services: { tunnel: tunnel(init) }`. */
export function tunnel(init: TunnelInit): (components: TunnelComponents) => TunnelService {
  return (components) => new TunnelService(init, components)
}
