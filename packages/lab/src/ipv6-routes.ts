/**
 * The lab's IPv6 routing table, computed: for every host and router, a route to every IPv6 segment
 * it is not on, via the first router of the shortest chain of routers (breadth first), as an ISP
 * and home routers route the prefixes they delegate. Pure: Lab.routeIpv6() applies the result.
 */
import { type Host, NatRouter } from './host.ts'

export interface Ipv6Route {
  namespace: string
  /** The destination prefix (a segment's `cidr6`). */
  to: string
  /** The next hop: the first router's IPv6 address on our segment, and our interface there. */
  via: string
  dev: string
}

/** Every route the lab needs; segments without IPv6 and unreachable ones get none. */
export function ipv6Routes(
  hosts: readonly Host[],
  segments: ReadonlyArray<{ name: string; cidr6: string }>,
): Ipv6Route[] {
  const routers = hosts.filter((h): h is NatRouter => h instanceof NatRouter)
  const out: Ipv6Route[] = []
  for (const host of hosts) {
    for (const target of segments) {
      if (host.interfaces.some((i) => i.segment === target.name && i.address6 !== undefined)) continue
      const hop = nextHop(host, target.name, routers)
      if (hop != null) out.push({ namespace: host.namespace, to: target.cidr6, ...hop })
    }
  }
  return out
}

/** The first router on the shortest router chain from `host` to `segment`, or null. */
function nextHop(
  host: Host,
  segment: string,
  routers: readonly NatRouter[],
): { via: string; dev: string } | null {
  // a queue of (segment reached, the first hop that got there)
  const queue: Array<{ seg: string; first: { via: string; dev: string } | null }> = host.interfaces
    .filter((i) => i.address6 !== undefined)
    .map((i) => ({ seg: i.segment, first: null }))
  const seen = new Set(queue.map((q) => q.seg))
  while (queue.length > 0) {
    const cur = queue.shift()
    if (cur === undefined) break
    for (const r of routers) {
      if (r === host) continue
      const inIf = r.interfaces.find((i) => i.segment === cur.seg && i.address6 !== undefined)
      if (inIf?.address6 === undefined) continue
      const first = cur.first ?? { via: inIf.address6, dev: host.iface(cur.seg).ifname }
      for (const out of r.interfaces) {
        if (out.address6 === undefined || seen.has(out.segment)) continue
        if (out.segment === segment) return first
        seen.add(out.segment)
        queue.push({ seg: out.segment, first })
      }
    }
  }
  return null
}
