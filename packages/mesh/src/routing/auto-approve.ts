/**
 * On the owner: approving, on sight, the route and exit offers a key's `autoApprove` covers (the
 * owner's own boxes). Only what the member's record advertises AND its key names is approved; the
 * check runs again inside the change against the policy being signed, so a key revoked or changed
 * meanwhile approves nothing.
 */
import {
  checkRoutePrefix,
  cidrsOverlap,
  cidrWithin,
  EXIT_ROUTE,
  MAX_POLICY_ROUTES,
  type Policy,
  parseCidr,
} from '@meshlan/wire'
import type { PolicyChange } from '../network.ts'

/** A member's offer as its record carries it. */
export interface Advertised {
  routes: readonly string[]
  exitNode: boolean
}

export interface AutoApproveRequest extends Advertised {
  peerId: string
}

/** The routes (prefixes or `'exit'`) of `peerId`'s offer its key auto-approves and `policy` lacks. */
export function autoApprovable(policy: Policy, peerId: string, offer: Advertised): string[] {
  // most nodes offer nothing: the owner asks this for every record on every recompute
  if (offer.routes.length === 0 && !offer.exitNode) return []
  const binding = policy.members.find((m) => m.peerId === peerId)
  if (binding == null) return [] // approvals are for bound members only
  const key = policy.keys.find((k) => k.name === binding.key)
  if (key == null) return []
  const { routes: allowed, exit } = key.autoApprove
  if (allowed.length === 0 && !exit) return []
  const overlay = parseCidr(policy.subnet)
  const have = new Set(policy.routes.filter((r) => r.peerId === peerId).map((r) => r.route))
  const out: string[] = []
  for (const route of offer.routes) {
    if (have.has(route)) continue
    const c = checkRoutePrefix(route)
    if (!c.ok || (overlay.ok && cidrsOverlap(c, overlay))) continue
    const covered = allowed.some((a) => {
      const p = parseCidr(a)
      return p.ok && cidrWithin(c, p)
    })
    if (covered) out.push(route)
  }
  if (exit && offer.exitNode && !have.has(EXIT_ROUTE)) out.push(EXIT_ROUTE)
  return out
}

/** One change approving every request's auto-approvable offer (up to MAX_POLICY_ROUTES in all). */
export function autoApprovals(requests: readonly AutoApproveRequest[], now: number): PolicyChange {
  return (p) => {
    const routes = [...p.routes]
    for (const r of requests) {
      for (const route of autoApprovable({ ...p, routes }, r.peerId, r)) {
        if (routes.length >= MAX_POLICY_ROUTES) return { ...p, routes }
        routes.push({ peerId: r.peerId, route, approvedAt: now })
      }
    }
    return { ...p, routes }
  }
}
