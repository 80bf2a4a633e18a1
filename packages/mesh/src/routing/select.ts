/**
 * Which routes are real, and who serves each: approved ∩ advertised per node, and for a prefix
 * several routers offer, one primary (high availability). Pure: the peer table calls it.
 */
import { checkRoutePrefix, cidrsOverlap, EXIT_ROUTE, type Policy } from '@meshlan/wire'

/** A routed prefix as the tables carry it. */
export interface RoutePrefix {
  base: number
  prefix: number
  cidr: string
}

/** What a node both advertises and is approved for. */
export interface Offer {
  routes: RoutePrefix[]
  exitNode: boolean
}

/**
 * Approved ∩ advertised for `peerId`. A prefix overlapping the overlay is dropped even when
 * approved: the overlay's own addresses are never routed through a peer.
 */
export function approvedOffer(
  policy: Policy,
  peerId: string,
  advertised: { routes: readonly string[]; exitNode: boolean },
  overlay: { base: number; mask: number },
): Offer {
  const approved = new Set(policy.routes.filter((r) => r.peerId === peerId).map((r) => r.route))
  const routes: RoutePrefix[] = []
  const seen = new Set<string>()
  for (const cidr of advertised.routes) {
    if (!approved.has(cidr) || seen.has(cidr)) continue
    const c = checkRoutePrefix(cidr)
    if (!c.ok || cidrsOverlap(c, overlay)) continue
    seen.add(cidr)
    routes.push({ base: c.base, prefix: c.prefix, cidr })
  }
  return { routes, exitNode: advertised.exitNode && approved.has(EXIT_ROUTE) }
}

/**
 * The primary of every offered prefix: the live offerer with the smallest peer id; a non-live one
 * (smallest id) only when no offerer is live — so every node picks the same primary from the same
 * view, and a router that goes away hands over as soon as its connection closes.
 */
export function choosePrimaries(
  offers: ReadonlyMap<string, Offer>,
  live: ReadonlySet<string>,
): Map<string, string> {
  const best = new Map<string, { peerId: string; live: boolean }>()
  for (const [peerId, offer] of offers) {
    const isLive = live.has(peerId)
    for (const r of offer.routes) {
      const cur = best.get(r.cidr)
      if (cur == null || (isLive && !cur.live) || (isLive === cur.live && peerId < cur.peerId)) {
        best.set(r.cidr, { peerId, live: isLive })
      }
    }
  }
  return new Map([...best].map(([cidr, b]) => [cidr, b.peerId]))
}
