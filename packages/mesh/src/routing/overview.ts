/**
 * `meshlan route list` and the owner's approval checks: per node, what it advertises (its newest
 * record), what the policy approves, and which node is primary for each prefix. Pure.
 */
import { compareNames, EXIT_ROUTE, type NodeRecord, type Policy, parseCidr } from '@meshlan/wire'
import { RouteNotAdvertisedError } from './errors.ts'
import { approvedOffer, choosePrimaries, type Offer } from './select.ts'

export interface RouteOverviewNode {
  peerId: string
  name: string
  ip: string | null
  /** Prefixes its record advertises. */
  advertised: string[]
  /** Approvals the policy holds for it (prefixes, and `'exit'`). */
  approved: string[]
  /** Approved ∩ advertised prefixes it is the primary for (lowest peer id; liveness is per node). */
  primary: string[]
  exitNode: { advertised: boolean; approved: boolean }
}

/** The newest record of every node (highest seq). */
export function newestRecords(records: Iterable<NodeRecord>): Map<string, NodeRecord> {
  const out = new Map<string, NodeRecord>()
  for (const r of records) {
    const cur = out.get(r.peerId)
    if (cur == null || r.seq > cur.seq) out.set(r.peerId, r)
  }
  return out
}

/** Every node that advertises something or holds an approval, sorted by name. */
export function routeOverview(policy: Policy, records: Iterable<NodeRecord>): RouteOverviewNode[] {
  const overlay = parseCidr(policy.subnet)
  if (!overlay.ok) return []
  const newest = newestRecords(records)
  const ids = new Set([...newest.keys(), ...policy.routes.map((r) => r.peerId)])
  const offers = new Map<string, Offer>()
  for (const id of ids) {
    const r = newest.get(id)
    offers.set(
      id,
      approvedOffer(policy, id, { routes: r?.routes ?? [], exitNode: r?.exitNode === true }, overlay),
    )
  }
  // the owner cannot see liveness: every node is taken as live, so the primary is the lowest id
  const primaries = choosePrimaries(offers, new Set(ids))
  const out: RouteOverviewNode[] = []
  for (const id of ids) {
    const r = newest.get(id)
    const binding = policy.members.find((m) => m.peerId === id)
    const approved = policy.routes.filter((a) => a.peerId === id).map((a) => a.route)
    const advertised = r?.routes ?? []
    if (advertised.length === 0 && approved.length === 0 && r?.exitNode !== true) continue
    out.push({
      peerId: id,
      name: binding?.name ?? r?.name ?? id,
      ip: binding?.ip ?? r?.ip ?? null,
      advertised: [...advertised],
      approved,
      primary: (offers.get(id)?.routes ?? []).filter((p) => primaries.get(p.cidr) === id).map((p) => p.cidr),
      exitNode: { advertised: r?.exitNode === true, approved: approved.includes(EXIT_ROUTE) },
    })
  }
  return out.sort((a, b) => compareNames(a.name, b.name))
}

/**
 * Throws RouteNotAdvertisedError unless `record` (the node's newest) advertises `route`. With no
 * record at all nothing is known: the caller decides (the owner's own node has none of itself).
 */
export function checkAdvertised(name: string, route: string, record: NodeRecord | undefined): void {
  const ok = route === EXIT_ROUTE ? record?.exitNode === true : (record?.routes ?? []).includes(route)
  if (!ok) throw new RouteNotAdvertisedError(name, route)
}
