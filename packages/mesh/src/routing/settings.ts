/**
 * This node's route and exit-node settings (advertise, accept, use) and what the node feeds the
 * peer table from them: the offers in the records, the live set, our underlay addresses. Changed
 * live by `MeshNode.setRouting`; the node recomputes and republishes its record after a change.
 */
import type { Connection } from '@libp2p/interface'
import { type Cidr, cidrsOverlap, ipToUint32, MAX_RECORD_ROUTES, parseCidr, uint32ToIp } from '@meshlan/wire'
import { checkRoute } from '../network.ts'
import { hostIpv4s } from '../overlay.ts'
import type { Advertised, PeerTable, PeerTableInput } from '../peer-table.ts'
import { InvalidRouteError } from './errors.ts'

/** The routing part of MeshNodeInit / `setRouting`. */
export interface RoutingOptions {
  /** Prefixes this node offers to route (a subnet router). @default [] */
  advertiseRoutes?: string[]
  /** Offer to be an exit node. @default false */
  advertiseExitNode?: boolean
  /** Install the approved routes other nodes serve. @default false (as Tailscale on Linux) */
  acceptRoutes?: boolean
  /** Send non-local traffic through this exit node (final name or overlay IP); null/'' = none. */
  exitNode?: string | null
}

export type RoutingState = Required<RoutingOptions>

/**
 * Checks and normalises options (unset fields keep `prev`). Throws InvalidRouteError or
 * RouteOverlapsOverlayError (when the overlay `subnet` is known) before anything changes.
 */
export function routingState(
  opts: RoutingOptions,
  prev: RoutingState | null,
  subnet: string | null,
): RoutingState {
  const routes = [...new Set(opts.advertiseRoutes ?? prev?.advertiseRoutes ?? [])]
  if (routes.length > MAX_RECORD_ROUTES) {
    throw new InvalidRouteError(routes.join(','), `a node advertises at most ${MAX_RECORD_ROUTES} routes`)
  }
  for (const [i, r] of routes.entries()) {
    if (r === 'exit') throw new InvalidRouteError(r, 'use advertiseExitNode to offer an exit node')
    checkRoute(r, subnet)
    const other = routes.slice(0, i).find((o) => cidrsOverlap(parseCidr(o) as Cidr, parseCidr(r) as Cidr))
    if (other != null) throw new InvalidRouteError(r, `overlaps ${other}: advertise one of them`)
  }
  const exitNode = opts.exitNode === undefined ? (prev?.exitNode ?? null) : opts.exitNode
  return {
    advertiseRoutes: routes,
    advertiseExitNode: opts.advertiseExitNode ?? prev?.advertiseExitNode ?? false,
    acceptRoutes: opts.acceptRoutes ?? prev?.acceptRoutes ?? false,
    exitNode: exitNode === '' ? null : exitNode,
  }
}

/** What our record advertises. */
export function advertised(s: RoutingState): Advertised {
  return { routes: s.advertiseRoutes, exitNode: s.advertiseExitNode }
}

/** A member's offer as its record carries it (records from before routes: nothing). */
export function offerOf(record: { routes?: string[]; exitNode?: boolean }): Advertised {
  return { routes: record.routes ?? [], exitNode: record.exitNode === true }
}

/**
 * The host's own IPv4 addresses (every interface): an accepted route containing one would send
 * the underlay itself into the tunnel.
 */
export function hostUnderlayIps(isUnderlay: (ip: string) => boolean): number[] {
  return hostIpv4s()
    .filter(isUnderlay)
    .map(ipToUint32)
    .filter((n) => n >= 0)
}

/** The routing part of the peer table's input: the live set, our settings, our underlay. */
export function tableInput(
  s: RoutingState,
  nodes: ReadonlyArray<{ record: { peerId: string } }>,
  reach: { path(peerId: string): string },
  isUnderlay: (ip: string) => boolean,
): Pick<PeerTableInput, 'live' | 'acceptRoutes' | 'exitNode' | 'selfAdvertised' | 'underlayIps'> {
  return {
    // a peer with an open connection (direct or relayed) is live: primaries are chosen among these
    live: new Set(nodes.map((n) => n.record.peerId).filter((p) => reach.path(p) !== 'none')),
    acceptRoutes: s.acceptRoutes,
    exitNode: s.exitNode,
    selfAdvertised: advertised(s),
    underlayIps: hostUnderlayIps(isUnderlay),
  }
}

/**
 * Dials the routers whose prefixes we accept and the exit node we use when no connection is open:
 * a route's primary is chosen among live peers, so we must hold a connection to each candidate to
 * notice the primary going away (HA takeover) instead of waiting for its record to expire.
 */
export function keepRoutersConnected(
  table: PeerTable,
  s: RoutingState,
  reach: { path(peerId: string): string; connect(peerId: string): Promise<unknown> },
): void {
  for (const p of table.peers.values()) {
    const wanted = (s.acceptRoutes && p.allRoutes.length > 0) || table.exit?.peerId === p.peerId
    if (wanted && reach.path(p.peerId) === 'none') void reach.connect(p.peerId).catch(() => {})
  }
}

/** The libp2p events a route's primary depends on (a connection to a router opened or closed). */
export interface ConnectionEvents {
  addEventListener(
    type: 'connection:open' | 'connection:close',
    listener: (evt: CustomEvent<Connection>) => void,
  ): void
}

/**
 * Schedules a recompute when a connection to a peer that offers routes or exit opens or closes: the
 * primary of a prefix may move (HA takeover), so the table is computed again (debounced by the
 * caller's Coalescer, well inside the 3 s takeover budget).
 */
export function watchRouters(
  events: ConnectionEvents,
  table: () => PeerTable,
  recompute: { schedule(): void },
): void {
  const on = (evt: CustomEvent<Connection>) => {
    const t = table()
    // with an exit node in use, every new underlay address must be bypassed at once
    if (t.exit != null) return recompute.schedule()
    const p = t.peers.get(evt.detail.remotePeer.toString())
    if (p != null && (p.allRoutes.length > 0 || p.exitNode)) recompute.schedule()
  }
  events.addEventListener('connection:open', on)
  events.addEventListener('connection:close', on)
}

/** What the host's kernel must do for routing after a recompute (the node's `routing` event). */
export interface HostRouting {
  /** Approved prefixes we serve as a subnet router. */
  served: string[]
  /** We are an approved exit node: forward and NAT members' internet traffic. */
  exitServed: boolean
  /** Prefixes we route through the TUN (we accept routes; primaries chosen). */
  accepted: string[]
  /** The exit node we send non-local traffic to; null when none is configured or usable. */
  exit: { name: string; ip: string } | null
  /**
   * Underlay IPv4 addresses we hold connections to, dial now, or bootstrap from: with an exit node in
   * use they stay on the host's own routes, so the tunnel never carries itself. Never the addresses
   * members merely list in their records (a member would choose what skips the exit node). Sorted,
   * unique.
   */
  bypass: string[]
}

const IP4_IN_ADDR = /\/ip4\/(\d{1,3}(?:\.\d{1,3}){3})\//g

/**
 * Every /ip4/ underlay address the tunnel runs over or is about to (relay circuits included): our
 * open connections, the addresses we are dialling (`dialing`, from DialBypass), the bootstrap list.
 * Sorted and unique.
 */
export function underlayBypass(
  dialing: readonly string[],
  bootstrap: readonly string[] | undefined,
  lp: { getConnections(): Array<{ remoteAddr: { toString(): string } }> } | null,
  isUnderlay: (ip: string) => boolean,
): string[] {
  const out = new Set<string>()
  const conns = lp?.getConnections().map((c) => c.remoteAddr.toString()) ?? []
  for (const a of [...dialing.map((ip) => `/ip4/${ip}/`), ...(bootstrap ?? []), ...conns]) {
    for (const m of `${a}/`.matchAll(IP4_IN_ADDR)) {
      const ip = m[1]
      if (ipToUint32(ip) >= 0 && isUnderlay(ip) && !ip.startsWith('127.')) out.add(ip)
    }
  }
  return [...out].sort()
}

/** The routing event's content from a peer table (exit: its name and overlay address). */
export function hostRouting(table: PeerTable, bypass: string[]): HostRouting {
  const exitPeer = table.exit == null ? undefined : table.peers.get(table.exit.peerId)
  return {
    served: table.self?.routes.approved.filter((r) => r !== 'exit') ?? [],
    exitServed: table.self?.exitNode === true,
    accepted: table.acceptedRoutes.map((r) => r.cidr),
    exit: exitPeer == null ? null : { name: exitPeer.name, ip: uint32ToIp(exitPeer.ip) },
    bypass: exitPeer == null ? [] : bypass,
  }
}
