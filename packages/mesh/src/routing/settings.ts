/**
 * This node's route and exit-node settings (advertise, accept, use) and what the node feeds the
 * peer table from them: the offers in the records, the live set, our underlay addresses. Changed
 * live by `MeshNode.setRouting`; the node recomputes and republishes its record after a change.
 */
import { networkInterfaces } from 'node:os'
import type { Connection } from '@libp2p/interface'
import { ipToUint32, MAX_RECORD_ROUTES } from '@meshlan/wire'
import { checkRoute } from '../network.ts'
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
  for (const r of routes) {
    if (r === 'exit') throw new InvalidRouteError(r, 'use advertiseExitNode to offer an exit node')
    checkRoute(r, subnet)
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
  const out: number[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || !isUnderlay(a.address)) continue
      const n = ipToUint32(a.address)
      if (n >= 0) out.push(n)
    }
  }
  return out
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
    const p = table().peers.get(evt.detail.remotePeer.toString())
    if (p != null && (p.allRoutes.length > 0 || p.exitNode)) recompute.schedule()
  }
  events.addEventListener('connection:open', on)
  events.addEventListener('connection:close', on)
}
