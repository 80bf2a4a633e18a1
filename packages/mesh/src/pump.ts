/**
 * (Over 500 lines on purpose: both directions of the hot path, with the per-peer link state they
 * share, read as one numbered sequence of stages; splitting them would scatter one packet's journey.)
 *
 * The packet pump: TUN ⇄ one long-lived yamux stream per peer and direction.
 *
 * Outbound, per TUN batch (device → peer):
 *   1. the device hands a batch: one slab, packets laid out [headroom][pkt][headroom][pkt]…
 *   2. validate: IPv4 only, sane header and length (bad → counted, dropped)
 *   3. route: destination → peer link by longest-prefix match over overlay /32s, approved routes
 *      (their primary router) and 0.0.0.0/0 (the exit node we use); none → NO_ROUTE
 *   4. filter: the link's compiled ACL, egress direction (stateful; drop → counted with its verdict)
 *   5. frame: the 4-byte frame header is written into the packet's headroom, in place
 *   6. queue: the frame (slab, start, end) goes into the peer's FlowQueue (tunnel/queue.ts): one
 *      flow queue per 5-tuple hash, CoDel drops by sojourn time, the fattest flow loses packets at
 *      the byte bound; nothing copied, nothing allocated
 *   7. send, after the batch: each touched peer's queue is served (new flows first) while the stream
 *      takes more; runs of frames contiguous in one slab go out as one subarray, one `send()` each.
 *      What the stream will not take waits in the queue, where AQM can see it, not in the stream.
 * Inbound, per stream chunk (peer → device):
 *   1. the stream's 'message' event hands a chunk to that stream's FrameDecoder
 *      (a malformed frame closes that stream only)
 *   2. validate each IP frame
 *   3. anti-spoofing: the source must be the sending peer's overlay address, inside one of its
 *      approved routes, or — when it is the exit node we use — any address our routes send to it
 *   4. the destination must be this node, inside one of our approved routes (the kernel forwards
 *      it into the LAN), or — when we are an approved exit node — any address outside the overlay
 *   5. filter: the link's compiled ACL, ingress direction
 *   6. write the accepted packets to the device in one batch call
 *
 * Buffer ownership: the device's slab belongs to the pump once the batch callback runs (the device
 * allocates a fresh one per batch); the peers' queues hold references to its frames until they are
 * dequeued or dropped; runs of it are handed to `stream.send()` and never touched again. The
 * decoder's buffer is only valid until the next push, so the device write happens before the next
 * chunk is pushed (writes are synchronous).
 */
import type { Stream } from '@libp2p/interface'
import {
  checkVnetFrame,
  createFrameBatch,
  decodeControl,
  encodeControl,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_TYPE_CONTROL,
  FRAME_TYPE_IP,
  FRAME_TYPE_IP_VNET,
  FrameDecoder,
  HEADER_REASONS,
  IPV4_SHORT,
  PacketHeader,
  rebuildVnetHeader,
  VNET_HDR_BYTES,
  VNET_MAX_GSO_SIZE,
  type VnetReason,
  writeFrameHeader,
} from '@meshlan/wire'
import { ACCEPT, type PacketFilter, VERDICT_NAMES } from './acl/index.ts'
import {
  BAD_VNET_LOG_MS,
  PEER_QUEUE_BYTES,
  PEER_QUEUE_BYTES_OFFLOAD,
  SEND_RUN_BYTES,
  TUNNEL_ACTIVE_WINDOW_MS,
  TUNNEL_RETRY_AFTER_FAILURE_MS,
  TUNNEL_RETRY_AFTER_REFUSAL_MS,
} from './constants.ts'
import { createLogger, type Logger, RateLimitedLog } from './logger.ts'
import { RouteTable } from './route-table.ts'
import { FlowQueue, flowHash } from './tunnel/queue.ts'

/** What the pump needs of a TUN device (the real one or an in-memory fake). */
export interface PacketDevice {
  /** Bytes reserved before each packet in read slabs; must be ≥ FRAME_HEADER_BYTES. */
  readonly headroom: number
  /**
   * Packets read carry a 10-byte virtio_net_hdr before the IP header (kernel offloads: reads may be
   * TCP super-packets of up to 64 KiB).
   * @default false
   */
  readonly vnetHdr?: boolean
  start(onBatch: (slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => void): void
  /** `vnetHdr`: the packets start with a virtio_net_hdr (the device converts when it has none). */
  writeBatch(
    slab: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    vnetHdr?: boolean,
  ): number
  close(): void
}

/** Pump-level drop reasons (ACL verdicts are counted by each link's filter). */
export const PUMP_DROPS = [
  'BAD_PACKET',
  'NO_ROUTE',
  'NOT_ALLOWED',
  'ACL',
  'QUEUE_FULL',
  'SPOOFED_SOURCE',
  'WRONG_DESTINATION',
  'DEVICE_FULL',
  'BAD_FRAME',
  // a type-3 frame whose virtio_net_hdr is not what its own packet implies (issue 8 §1)
  'BAD_VNET',
  // a destination outside the overlay that we do not serve: in none of our approved routes and we
  // are no approved exit node (an unapproved or revoked route, or a peer using us without approval)
  'NOT_OUR_ROUTE',
  // dropped by the peer queue's CoDel: its flow held ≥ CODEL_MIN_BACKLOG_BYTES and its packets had
  // waited past CODEL_TARGET_MS for a whole CODEL_INTERVAL_MS (tunnel/queue.ts)
  'CODEL',
] as const
export type PumpDrop = (typeof PUMP_DROPS)[number]
const D_BAD_PACKET = 0
const D_NO_ROUTE = 1
const D_NOT_ALLOWED = 2
const D_ACL = 3
const D_QUEUE_FULL = 4
const D_SPOOFED = 5
const D_WRONG_DST = 6
const D_DEVICE_FULL = 7
const D_BAD_FRAME = 8
const D_BAD_VNET = 9
const D_NOT_OUR_ROUTE = 10
const D_CODEL = 11

/** An IPv4 prefix: `base` a uint32 (host bits are cleared where stored). */
export interface Prefix {
  base: number
  prefix: number
}

/** What a peer serves beyond its overlay address. */
export interface PeerRouting {
  /** Approved routes this peer is the primary router for: the pump routes them to it. */
  routes: readonly Prefix[]
  /** Every approved route of the peer, primary or not: sources it may send from. */
  sources: readonly Prefix[]
}

/** What this node serves: where peers' packets may be headed besides our overlay address. */
export interface SelfRouting {
  /** Our approved routes. */
  routes: readonly Prefix[]
  /** We are an approved exit node. */
  exitNode: boolean
  /** The overlay subnet (never forwarded to the kernel as internet traffic); null when unknown. */
  overlay: Prefix | null
}

const EMPTY_U32 = new Uint32Array(0)

/** Flattens prefixes into (base, mask) arrays scanned without allocation on the hot path. */
function flatten(list: readonly Prefix[]): { base: Uint32Array; mask: Uint32Array } {
  if (list.length === 0) return { base: EMPTY_U32, mask: EMPTY_U32 }
  const mask = Uint32Array.from(list, (p) => RouteTable.mask(p.prefix))
  const base = Uint32Array.from(list, (p, i) => (p.base & mask[i]) >>> 0)
  return { base, mask }
}

function inPrefixes(ip: number, base: Uint32Array, mask: Uint32Array): boolean {
  for (let i = 0; i < base.length; i++) if ((ip & mask[i]) >>> 0 === base[i]) return true
  return false
}

export interface PumpInit {
  /** @default PEER_QUEUE_BYTES, or PEER_QUEUE_BYTES_OFFLOAD for a device with offloads */
  peerQueueBytes?: number
  /**
   * The TUN's MTU: bounds the gso_size a peer's type-3 super-packet may ask for (MTU − 40).
   * @default 1400 (wire's VNET_MAX_GSO_SIZE + 40)
   */
  mtu?: number
  /** IP frames decoded per device write. @default 256 */
  rxBatch?: number
  /** The peer queues' clock: monotonic ms (tests step it). @default performance.now */
  now?: () => number
  log?: Logger
}

export interface PumpComponents {
  device: PacketDevice
  /** Opens our outbound tunnel stream to a peer on its best path (dials if needed). */
  openStream(peerId: string): Promise<TunnelStream>
}

export interface TunnelStream {
  stream: Stream
  path: 'direct' | 'relay'
}

export interface LinkStats {
  peerId: string
  ip: number
  txPackets: number
  txBytes: number
  rxPackets: number
  rxBytes: number
  queued: number
  drops: number
  streamOpen: boolean
  refused: { code: string; reason: string } | null
}

class PeerLink {
  readonly peerId: string
  ip: number
  filter: PacketFilter | null
  /** Routes installed in the pump's table for this peer (it is their primary router). */
  routes: readonly Prefix[] = []
  /** Its approved routes flattened: sources it may send from. */
  srcBase: Uint32Array = EMPTY_U32
  srcMask: Uint32Array = EMPTY_U32
  /** The exit node we use: 0.0.0.0/0 points at it and its packets may come from any internet source. */
  exit = false
  out: Stream | null = null
  outPath: 'direct' | 'relay' = 'direct'
  lastTx = 0
  opening = false
  needsDrain = false
  /** Frames waiting for the stream; created with the first packet (most peers never get one). */
  queue: FlowQueue | null = null
  /** The queue's drop counters already added to the pump's. */
  countedCodel = 0
  countedOverflow = 0
  /** Got packets in the current TUN batch (it is in the pump's `touched` list). */
  touched = false
  /** Inside drainQueue: the stream's 'idle' may fire from our own send(). */
  draining = false
  refused: { code: string; reason: string } | null = null
  retryAt = 0
  inbound = new Set<Stream>()
  txPackets = 0
  txBytes = 0
  rxPackets = 0
  rxBytes = 0
  drops = 0

  constructor(peerId: string, ip: number, filter: PacketFilter | null) {
    this.peerId = peerId
    this.ip = ip
    this.filter = filter
  }
}

export class Pump {
  private readonly device: PacketDevice
  private readonly openStreamFn: (peerId: string) => Promise<TunnelStream>
  private readonly peerQueueBytes: number
  private readonly rxBatch: number
  private readonly now: () => number
  private readonly log: Logger
  private readonly dropLog: RateLimitedLog
  private readonly routes = new RouteTable<PeerLink>()
  private readonly links = new Map<string, PeerLink>()
  private readonly activeListeners: Array<(peerId: string) => void> = []
  private readonly touched: PeerLink[] = []
  private readonly rxOffsets: Uint32Array
  private readonly rxLengths: Uint32Array
  /** Parsed header of the packet in hand, one per direction: filled in place, never allocated per packet. */
  private readonly txHeader = new PacketHeader()
  private readonly rxHeader = new PacketHeader()
  /** Largest gso_size accepted in a peer's type-3 frame. */
  private readonly maxGsoSize: number
  private badVnetLoggedAt = 0
  private badVnetSuppressed = 0
  private selfIp = 0
  private selfRouteBase: Uint32Array = EMPTY_U32
  private selfRouteMask: Uint32Array = EMPTY_U32
  private selfExit = false
  private overlayBase = 0
  private overlayMask = 0
  private overlayKnown = false
  private exitLink: PeerLink | null = null
  private running = false
  /** Our device's packets carry a virtio_net_hdr: skip it to parse, send it along (frame type 3). */
  private readonly vnet: number
  private readonly frameType: number
  /** Drops by reason, indexed like PUMP_DROPS. */
  readonly drops = new Float64Array(PUMP_DROPS.length)

  constructor(init: PumpInit, components: PumpComponents) {
    this.device = components.device
    this.openStreamFn = components.openStream
    this.peerQueueBytes =
      init.peerQueueBytes ??
      (components.device.vnetHdr === true ? PEER_QUEUE_BYTES_OFFLOAD : PEER_QUEUE_BYTES)
    this.rxBatch = init.rxBatch ?? 256
    this.now = init.now ?? (() => performance.now())
    this.maxGsoSize = init.mtu != null ? init.mtu - 40 : VNET_MAX_GSO_SIZE
    this.log = init.log ?? createLogger('pump')
    this.dropLog = new RateLimitedLog(this.log)
    this.rxOffsets = new Uint32Array(this.rxBatch)
    this.rxLengths = new Uint32Array(this.rxBatch)
    this.vnet = this.device.vnetHdr === true ? VNET_HDR_BYTES : 0
    this.frameType = this.vnet > 0 ? FRAME_TYPE_IP_VNET : FRAME_TYPE_IP
    if (this.device.headroom < FRAME_HEADER_BYTES) {
      throw new RangeError(`device headroom ${this.device.headroom} < frame header ${FRAME_HEADER_BYTES}`)
    }
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.device.start((slab, offsets, lengths, count) => this.onDeviceBatch(slab, offsets, lengths, count))
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    for (const link of this.links.values()) this.closeLink(link, 'pump stopped')
    this.links.clear()
    this.routes.clear()
    this.device.close()
  }

  setSelfIp(ip: number): void {
    this.selfIp = ip
  }

  /** What we serve: our approved routes, whether we are an approved exit node, the overlay subnet. */
  setSelfRouting(r: SelfRouting): void {
    const f = flatten(r.routes)
    this.selfRouteBase = f.base
    this.selfRouteMask = f.mask
    this.selfExit = r.exitNode
    this.overlayKnown = r.overlay != null
    this.overlayMask = r.overlay == null ? 0 : RouteTable.mask(r.overlay.prefix)
    this.overlayBase = r.overlay == null ? 0 : (r.overlay.base & this.overlayMask) >>> 0
  }

  /** The exit node we use (null: none): 0.0.0.0/0 routes to it. The peer must be upserted first. */
  setExitPeer(peerId: string | null): void {
    const link = peerId == null ? null : (this.links.get(peerId) ?? null)
    if (this.exitLink === link) return
    if (this.exitLink != null) {
      this.exitLink.exit = false
      this.routes.delete(0, 0)
    }
    this.exitLink = link
    if (link != null) {
      link.exit = true
      this.routes.set(0, 0, link)
    }
  }

  /**
   * Adds or updates a peer: its overlay address, compiled filter (null = nothing allowed) and what
   * it routes (its primary routes go into the route table, all its approved routes become sources
   * it may send from).
   */
  upsertPeer(peerId: string, ip: number, filter: PacketFilter | null, routing?: PeerRouting): void {
    let link = this.links.get(peerId)
    if (link == null) {
      link = new PeerLink(peerId, ip, filter)
      this.links.set(peerId, link)
    } else {
      if (link.ip !== ip) this.unroute(link, link.ip, 32)
      link.ip = ip
      link.filter = filter
      link.refused = null
      link.retryAt = 0
    }
    this.routes.set(ip, 32, link)
    const next = routing?.routes ?? []
    for (const r of link.routes) {
      if (!next.some((n) => n.prefix === r.prefix && n.base === r.base)) this.unroute(link, r.base, r.prefix)
    }
    for (const r of next) this.routes.set(r.base, r.prefix, link)
    link.routes = next
    const src = flatten(routing?.sources ?? [])
    link.srcBase = src.base
    link.srcMask = src.mask
    if (filter == null) this.closeLink(link, 'not allowed by policy')
  }

  removePeer(peerId: string, why = 'peer removed'): void {
    const link = this.links.get(peerId)
    if (link == null) return
    this.unroute(link, link.ip, 32)
    for (const r of link.routes) this.unroute(link, r.base, r.prefix)
    if (this.exitLink === link) this.setExitPeer(null)
    this.links.delete(peerId)
    this.closeLink(link, why)
  }

  /** Removes a route only while it still points at `link` (another peer may have taken it over). */
  private unroute(link: PeerLink, base: number, prefix: number): void {
    if (this.routes.get(base, prefix) === link) this.routes.delete(base, prefix)
  }

  /** Closes a peer's tunnel streams (e.g. its connection moved) without forgetting the peer. */
  resetPeer(peerId: string, why: string): void {
    const link = this.links.get(peerId)
    if (link != null) this.closeLink(link, why)
  }

  /** Takes an inbound tunnel stream the gate has accepted. */
  acceptInbound(peerId: string, stream: Stream): void {
    const link = this.links.get(peerId)
    if (link == null || link.filter == null) {
      refuseStream(stream, 'NOT_ALLOWED', 'no route or policy for this peer yet')
      return
    }
    link.inbound.add(stream)
    const decoder = new FrameDecoder()
    const batch = createFrameBatch(this.rxBatch)
    stream.addEventListener('message', (evt) => {
      decoder.push(evt.data)
      for (;;) {
        const n = decoder.decode(batch)
        if (typeof n !== 'number') {
          this.drops[D_BAD_FRAME]++
          this.log.warn('malformed frame, closing stream', { peer: peerId, error: n.error })
          stream.abort(new Error(`malformed frame: ${n.error}`))
          link.inbound.delete(stream)
          return
        }
        if (n === 0) break
        if (batch.count > 0)
          this.deliver(link, batch.buf, batch.offsets, batch.lengths, batch.count, batch.vnet)
        // control frames on an inbound stream carry nothing we act on today
      }
    })
    stream.addEventListener('close', () => {
      link.inbound.delete(stream)
    })
  }

  /** Whether the peer's tunnel currently goes through a relay. */
  hasRelayedOutbound(peerId: string): boolean {
    const link = this.links.get(peerId)
    return link?.out != null && link.outPath === 'relay'
  }

  /**
   * Moves a peer's outbound tunnel onto a new stream (a better path appeared): new packets go to
   * the new stream at once; the old one is closed gracefully so what it already holds still
   * arrives (the far side's TCP copes with the brief reordering).
   */
  replaceOutbound(peerId: string, stream: Stream, path: 'direct' | 'relay'): void {
    const link = this.links.get(peerId)
    if (link == null || link.filter == null || !this.running) {
      stream.abort(new Error('no tunnel for this peer'))
      return
    }
    const old = link.out
    link.outPath = path
    this.attachOutbound(link, stream)
    if (old != null && old !== stream) void old.close().catch(() => old.abort(new Error('replaced')))
  }

  /**
   * Calls `listener` when a peer's tunnel sends after TUNNEL_ACTIVE_WINDOW_MS of quiet (or for the
   * first time), and when a tunnel that sent within that window gets a stream (a new one, or
   * another path's): the reachability watchdog sleeps until then. Returns the unsubscribe.
   */
  onActive(listener: (peerId: string) => void): () => void {
    this.activeListeners.push(listener)
    return () => {
      const i = this.activeListeners.indexOf(listener)
      if (i >= 0) this.activeListeners.splice(i, 1)
    }
  }

  private started(peerId: string): void {
    for (const l of this.activeListeners) l(peerId)
  }

  /** Peers we sent tunnel traffic to within the last `windowMs`. */
  activePeers(windowMs: number): string[] {
    const since = Date.now() - windowMs
    const out: string[] = []
    for (const l of this.links.values()) if (l.lastTx >= since && l.out != null) out.push(l.peerId)
    return out
  }

  /** Bytes of tunnel packets received from a peer so far (any path); 0 for an unknown peer. */
  rxBytes(peerId: string): number {
    return this.links.get(peerId)?.rxBytes ?? 0
  }

  /** Why traffic to `ip` would not flow now, or null when it would. */
  describeRoute(ip: number): { peerId: string } | null {
    const link = this.routes.lookup(ip)
    return link == null ? null : { peerId: link.peerId }
  }

  linkStats(): LinkStats[] {
    return [...this.links.values()].map((l) => ({
      peerId: l.peerId,
      ip: l.ip,
      txPackets: l.txPackets,
      txBytes: l.txBytes,
      rxPackets: l.rxPackets,
      rxBytes: l.rxBytes,
      queued: l.queue?.bytes ?? 0,
      drops: l.drops,
      streamOpen: l.out != null,
      refused: l.refused,
    }))
  }

  dropCounts(): Record<PumpDrop, number> {
    const out = {} as Record<PumpDrop, number>
    PUMP_DROPS.forEach((name, i) => {
      out[name] = this.drops[i]
    })
    return out
  }

  // ---- outbound ---------------------------------------------------------------------------------

  private onDeviceBatch(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    const now = Date.now()
    // the queues' clock: monotonic and sub-millisecond (CoDel's target is 5 ms)
    const mono = this.now()
    const vnet = this.vnet
    const h = this.txHeader
    const touched = this.touched
    for (let i = 0; i < count; i++) {
      const off = offsets[i]
      const len = lengths[i]
      const ip = off + vnet
      const bad = len <= vnet ? IPV4_SHORT : h.parse(slab, ip, len - vnet)
      if (bad !== 0) {
        this.drop(D_BAD_PACKET, undefined, HEADER_REASONS[bad])
        continue
      }
      const link = this.routes.lookup(h.dst)
      if (link == null) {
        this.drop(D_NO_ROUTE)
        continue
      }
      if (link.filter == null) {
        this.drop(D_NOT_ALLOWED, link)
        continue
      }
      const v = link.filter.checkEgress(h, now)
      if (v !== ACCEPT) {
        this.drop(D_ACL, link, VERDICT_NAMES[v])
        continue
      }
      const frameStart = off - FRAME_HEADER_BYTES
      writeFrameHeader(slab, frameStart, this.frameType, len)
      link.txPackets++
      link.txBytes += len
      let q = link.queue
      if (q == null) {
        q = new FlowQueue({ limitBytes: this.peerQueueBytes })
        link.queue = q
      }
      // a whole batch may be larger than the queue: hand the stream what it takes before dropping
      if (!q.fits(len + FRAME_HEADER_BYTES) && link.out != null && !link.needsDrain)
        this.drainQueue(link, mono)
      q.enqueue(slab, frameStart, off + len, flowHash(h.src, h.dst, h.proto, h.sport, h.dport), mono)
      if (!link.touched) {
        link.touched = true
        if (now - link.lastTx > TUNNEL_ACTIVE_WINDOW_MS) this.started(link.peerId)
        link.lastTx = now
        touched.push(link)
      }
    }
    for (let i = 0; i < touched.length; i++) {
      const link = touched[i]
      link.touched = false
      if (link.out == null) this.ensureStream(link)
      else if (!link.needsDrain) this.drainQueue(link, mono)
      this.countQueueDrops(link)
    }
    touched.length = 0
  }

  /** Adds what the link's queue dropped since the last call to the pump's and the link's counters. */
  private countQueueDrops(link: PeerLink): void {
    const q = link.queue
    if (q == null) return
    const codel = q.codelDrops - link.countedCodel
    const overflow = q.overflowDrops - link.countedOverflow
    if (codel === 0 && overflow === 0) return
    link.countedCodel = q.codelDrops
    link.countedOverflow = q.overflowDrops
    this.drops[D_CODEL] += codel
    this.drops[D_QUEUE_FULL] += overflow
    link.drops += codel + overflow
  }

  private ensureStream(link: PeerLink): void {
    if (link.opening || link.out != null || !this.running) return
    const now = Date.now()
    if (now < link.retryAt) {
      this.discardQueue(link)
      return
    }
    link.opening = true
    this.openStreamFn(link.peerId).then(
      ({ stream, path }) => {
        link.opening = false
        if (!this.running || this.links.get(link.peerId) !== link || link.filter == null) {
          stream.abort(new Error('link gone'))
          return
        }
        link.outPath = path
        this.attachOutbound(link, stream)
      },
      (err: Error) => {
        link.opening = false
        link.retryAt = Date.now() + TUNNEL_RETRY_AFTER_FAILURE_MS
        this.log.debug('tunnel stream open failed', { peer: link.peerId, error: err.message })
        this.discardQueue(link)
      },
    )
  }

  private attachOutbound(link: PeerLink, stream: Stream): void {
    link.out = stream
    link.needsDrain = false
    link.refused = null
    // the tunnel's first packet fired onActive before it had a stream (activePeers counts only
    // peers with one): say it again now that the watchdog has a path to watch
    if (Date.now() - link.lastTx <= TUNNEL_ACTIVE_WINDOW_MS) this.started(link.peerId)
    // the stream is ours to send on: the far side may write back control frames only (a refusal
    // with its reason), so the decoder holds one control frame at most and fails on anything else
    const decoder = new FrameDecoder({ controlOnly: true })
    const batch = createFrameBatch(1)
    stream.addEventListener('drain', () => {
      link.needsDrain = false
      this.drainQueue(link)
    })
    // the stream's own buffer emptied: ours may go on (see drainQueue). In a microtask: the stream
    // fires 'idle' while still inside its send loop, where a send() would only append, unsent.
    const afterIdle = (): void => {
      if (link.out === stream && !link.needsDrain) this.drainQueue(link)
    }
    stream.addEventListener('idle', () => queueMicrotask(afterIdle))
    stream.addEventListener('message', (evt) => {
      decoder.push(evt.data)
      for (;;) {
        const n = decoder.decode(batch)
        if (typeof n !== 'number') {
          this.drops[D_BAD_FRAME]++
          this.log.warn('peer wrote more than control frames on our tunnel stream, closing it', {
            peer: link.peerId,
            error: n.error,
          })
          stream.abort(new Error(`tunnel protocol error from peer: ${n.error}`))
          return
        }
        if (n === 0) return
        if (batch.controlOffset < 0) continue
        const msg = decodeControl(
          batch.buf.subarray(batch.controlOffset, batch.controlOffset + batch.controlLength),
        )
        if (msg.ok && msg.value.t === 'refuse') {
          link.refused = { code: msg.value.code, reason: msg.value.reason }
          link.retryAt = Date.now() + TUNNEL_RETRY_AFTER_REFUSAL_MS
          this.log.info('peer refused our tunnel', { peer: link.peerId, code: msg.value.code })
          // let the stream go: the peer closed its side and drops what we send, and a stream still
          // held kept every later packet on it, so a refusal from a peer whose policy had not yet
          // caught up (it bound us a moment later) lasted as long as the connection (a CI
          // failure of the service test). The next packet after retryAt opens a new stream.
          if (link.out === stream) {
            link.out = null
            link.needsDrain = false
          }
          void stream.close().catch(() => stream.abort(new Error('tunnel refused by the peer')))
          return
        }
      }
    })
    stream.addEventListener('close', () => {
      if (link.out === stream) {
        link.out = null
        link.needsDrain = false
      }
    })
    this.drainQueue(link)
  }

  /**
   * Sends from the link's queue while the stream takes more. Frames contiguous in one slab go out
   * as one subarray of at most SEND_RUN_BYTES. The next run waits until the stream's own buffer is
   * empty: yamux fires 'drain' on every window update, however small, and `send()` then appends
   * a whole run while only the update's bytes leave — measured, that buffer grew to ~900 KB under
   * load, a FIFO the ping waited behind. So what the stream cannot send now waits here, per flow,
   * where CoDel sees it; at most one run beyond the yamux window waits in the stream.
   */
  private drainQueue(link: PeerLink, now = this.now()): void {
    const out = link.out
    const q = link.queue
    if (out == null || q == null || link.needsDrain || link.draining || out.writeBufferLength > 0) return
    link.draining = true
    let slab: Uint8Array | null = null
    let start = 0
    let end = 0
    while (link.out === out && q.dequeue(now)) {
      if (q.outSlab === slab && q.outStart === end && q.outEnd - start <= SEND_RUN_BYTES) {
        end = q.outEnd
        continue
      }
      if (slab !== null) {
        this.sendRun(link, out, slab, start, end)
        if (link.needsDrain || link.out !== out || out.writeBufferLength > 0) {
          // the frame in hand goes back to the head of its flow
          if (link.out === out) q.unget()
          slab = null
          break
        }
      }
      slab = q.outSlab
      start = q.outStart
      end = q.outEnd
    }
    if (slab !== null && link.out === out) this.sendRun(link, out, slab, start, end)
    link.draining = false
    this.countQueueDrops(link)
  }

  private sendRun(link: PeerLink, out: Stream, slab: Uint8Array, start: number, end: number): void {
    try {
      if (!out.send(slab.subarray(start, end))) link.needsDrain = true
    } catch {
      this.drop(D_QUEUE_FULL, link)
      this.closeLink(link, 'send failed')
    }
  }

  private discardQueue(link: PeerLink): void {
    link.queue?.clear()
    this.countQueueDrops(link)
  }

  private closeLink(link: PeerLink, why: string): void {
    this.discardQueue(link)
    const out = link.out
    link.out = null
    link.needsDrain = false
    if (out != null) out.abort(new Error(why))
    for (const s of link.inbound) s.abort(new Error(why))
    link.inbound.clear()
  }

  // ---- inbound ----------------------------------------------------------------------------------

  private deliver(
    link: PeerLink,
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    vnetFrames: boolean,
  ): void {
    const vnet = vnetFrames ? VNET_HDR_BYTES : 0
    const filter = link.filter
    if (filter == null) {
      this.drops[D_NOT_ALLOWED] += count
      return
    }
    const now = Date.now()
    const outOff = this.rxOffsets
    const outLen = this.rxLengths
    const h = this.rxHeader
    let n = 0
    for (let i = 0; i < count; i++) {
      const off = offsets[i]
      const len = lengths[i]
      const ip = off + vnet
      if (vnetFrames) {
        // the peer's virtio_net_hdr decides where the TUN write path stores a checksum and how it
        // splits: refuse any header its own packet does not imply, then rebuild it from the packet
        // so the filter below sees exactly the bytes the kernel will receive
        const verdict = checkVnetFrame(buf, off, len, this.maxGsoSize)
        if (!verdict.ok) {
          this.dropBadVnet(link, verdict.reason)
          continue
        }
        rebuildVnetHeader(buf, off)
      }
      const bad = len <= vnet ? IPV4_SHORT : h.parse(buf, ip, len - vnet)
      if (bad !== 0) {
        this.drop(D_BAD_PACKET, link, HEADER_REASONS[bad])
        continue
      }
      const src = h.src
      const dst = h.dst
      if (!this.sourceOk(link, src)) {
        this.drop(D_SPOOFED, link)
        continue
      }
      const dv = this.destination(dst)
      if (dv !== 0) {
        this.drop(dv, link)
        continue
      }
      const v = filter.checkIngress(h, now)
      if (v !== ACCEPT) {
        this.drop(D_ACL, link, VERDICT_NAMES[v])
        continue
      }
      link.rxPackets++
      link.rxBytes += len
      outOff[n] = off
      outLen[n] = len
      n++
    }
    if (n > 0) {
      const written = this.device.writeBatch(buf, outOff, outLen, n, vnetFrames)
      if (written < n) this.drops[D_DEVICE_FULL] += n - written
    }
  }

  /**
   * Anti-spoofing: the peer's overlay address, one of its approved routes, or — from the exit node
   * we use — an address outside the overlay that our own table routes to it (reverse-path check:
   * never another peer's address or route).
   */
  private sourceOk(link: PeerLink, src: number): boolean {
    if (src === link.ip) return true
    if (inPrefixes(src, link.srcBase, link.srcMask)) return true
    if (!link.exit) return false
    if (this.overlayKnown && (src & this.overlayMask) >>> 0 === this.overlayBase) return false
    return this.routes.lookup(src) === link
  }

  /** 0 when a packet from a peer may go to our device, else the drop reason. */
  private destination(dst: number): number {
    if (dst === this.selfIp) return 0
    if (this.overlayKnown && (dst & this.overlayMask) >>> 0 === this.overlayBase) return D_WRONG_DST
    // ours even when another router is primary for the same prefix (high availability: a client
    // may still send here while the switch-over spreads)
    if (inPrefixes(dst, this.selfRouteBase, this.selfRouteMask)) return 0
    const to = this.routes.lookup(dst)
    // another peer's overlay address or a route it serves: the kernel would hand it back to us
    if (to != null && to !== this.exitLink) return to.ip === dst ? D_WRONG_DST : D_NOT_OUR_ROUTE
    return this.selfExit ? 0 : D_NOT_OUR_ROUTE
  }

  /** Counts a refused type-3 frame and warns, naming the peer, at most once per BAD_VNET_LOG_MS. */
  private dropBadVnet(link: PeerLink, reason: VnetReason): void {
    this.drops[D_BAD_VNET]++
    link.drops++
    const now = Date.now()
    if (now - this.badVnetLoggedAt < BAD_VNET_LOG_MS) {
      this.badVnetSuppressed++
      return
    }
    this.log.warn('refused a frame whose virtio_net_hdr does not match its packet', {
      peer: link.peerId,
      reason,
      suppressed: this.badVnetSuppressed,
    })
    this.badVnetLoggedAt = now
    this.badVnetSuppressed = 0
  }

  /** Counts a drop; `detail` (the parser's or the filter's reason name) goes to the debug log. */
  private drop(reason: number, link?: PeerLink, detail?: string): void {
    this.drops[reason]++
    if (link != null) link.drops++
    // the fields object is built only when debug logging is on: drops happen per packet under load
    if (this.log.debugEnabled)
      this.dropLog.debug('packet dropped', { reason: PUMP_DROPS[reason], detail, peer: link?.peerId })
  }
}

/** Refuses a tunnel stream: a control frame with the reason, then close. */
export function refuseStream(stream: Stream, code: string, reason: string): void {
  try {
    stream.send(encodeFrame(FRAME_TYPE_CONTROL, encodeControl({ t: 'refuse', code, reason })))
    void stream.close().catch(() => stream.abort(new Error(reason)))
  } catch {
    stream.abort(new Error(reason))
  }
}

export function createPump(init: PumpInit, components: PumpComponents): Pump {
  return new Pump(init, components)
}
