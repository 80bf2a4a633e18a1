/**
 * The tunnel service (a js-libp2p service): the stream gate of the data plane and the pump.
 * A tunnel stream is accepted only from an admitted member whose entry in the peer table allows a
 * tunnel at all (either side's ACL reaches the other); every packet is then checked again by that
 * peer's compiled filter in the pump. `apply()` turns a new peer table into filters and routes.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { type Conntrack, createConntrack, createPacketFilter, type PacketFilter } from '../acl/index.ts'
import { CONNTRACK_SWEEP_MS, TUNNEL_OPEN_TIMEOUT_MS, TUNNEL_PROTOCOL } from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { MembershipService } from '../membership/service.ts'
import type { PeerEntry, PeerTable } from '../peer-table.ts'
import { type PacketDevice, Pump, refuseStream, type TunnelStream } from '../pump.ts'

export interface TunnelInit {
  /** The packet device; null for a control-plane-only node (tests). */
  device: PacketDevice | null
  /** The TUN's MTU: bounds the segment size a peer's super-packets may ask for. @default DEFAULT_MTU */
  mtu?: number
  /** Opens our outbound tunnel stream to a peer on its best path. */
  openStream(peerId: string): Promise<TunnelStream>
  /** Our final name, for refusal messages. */
  selfName(): string
  log: Logger
}

export interface TunnelComponents {
  membership: MembershipService
}

interface Link {
  entry: PeerEntry
  filter: PacketFilter | null
}

export class TunnelService {
  private readonly init: TunnelInit
  private readonly c: TunnelComponents
  readonly pump: Pump | null
  private readonly conntrack: Conntrack = createConntrack()
  private readonly links = new Map<string, Link>()
  private selfIp = 0
  private sweep: NodeJS.Timeout | null = null

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
    this.sweep = setInterval(() => this.conntrack.sweep(Date.now()), CONNTRACK_SWEEP_MS)
  }

  stop(): void {
    if (this.sweep != null) clearInterval(this.sweep)
    this.pump?.stop()
  }

  get peers(): ReadonlyMap<string, Link> {
    return this.links
  }

  /** Makes the data plane follow a new peer table: filters swapped in place, routes updated. */
  apply(table: PeerTable): void {
    const selfIp = table.self?.ip ?? 0
    if (selfIp !== this.selfIp) {
      this.selfIp = selfIp
      this.pump?.setSelfIp(selfIp)
    }
    const member = table.outbound != null
    for (const entry of table.peers.values()) {
      const link = this.links.get(entry.peerId)
      let filter: PacketFilter | null = null
      if (member && entry.allowed) {
        const old = link?.filter
        if (old != null && old.peerIp === entry.ip && old.selfIp === selfIp) {
          old.replace(entry.inbound, table.outbound)
          filter = old
        } else {
          filter = createPacketFilter({
            selfIp,
            peerIp: entry.ip,
            inbound: entry.inbound,
            outbound: table.outbound,
            conntrack: this.conntrack,
          })
        }
      }
      this.links.set(entry.peerId, { entry, filter })
      // not a member (any more): nothing may flow, though routes stay for status
      this.pump?.upsertPeer(entry.peerId, entry.ip, filter)
    }
    for (const peerId of [...this.links.keys()]) {
      if (!table.peers.has(peerId)) this.remove(peerId, 'no longer a member')
    }
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
