/**
 * Where the topology picture puts things: this node in the middle, the members it sees on a circle
 * around it, and relays that are not members (a public relay) on an outer ring. Pure: positions
 * and links from the status, no DOM (the page draws them).
 */
import type { Peer, RouteNode } from './types.ts'

export interface TopoNode {
  id: string
  label: string
  x: number
  y: number
  kind: 'self' | 'member' | 'relay'
  online: boolean
  /** Approved prefixes it routes (subnet router), and whether it is an approved exit node. */
  routes: string[]
  exit: boolean
}

export interface TopoLink {
  from: string
  to: string
  kind: 'direct' | 'relay' | 'none'
  label: string
}

/** The drawing's size (the SVG viewBox): it scales to the screen. */
export const VIEW = 400
const CENTER = VIEW / 2
const RING = 130
const OUTER = 175

function at(i: number, n: number, r: number): { x: number; y: number } {
  const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1)
  return { x: Math.round(CENTER + r * Math.cos(a)), y: Math.round(CENTER + r * Math.sin(a)) }
}

export function layout(
  self: { name: string; peerId: string },
  peers: Peer[],
  routes: RouteNode[],
): { nodes: TopoNode[]; links: TopoLink[] } {
  const approved = new Map(routes.map((r) => [r.peerId, r]))
  const offer = (id: string) => {
    const r = approved.get(id)
    return { routes: (r?.approved ?? []).filter((x) => x !== 'exit'), exit: r?.exitNode.approved === true }
  }
  const nodes: TopoNode[] = [
    {
      id: self.peerId,
      label: self.name,
      x: CENTER,
      y: CENTER,
      kind: 'self',
      online: true,
      ...offer(self.peerId),
    },
  ]
  const byName = new Map<string, string>([[self.name, self.peerId]])
  peers.forEach((p, i) => {
    nodes.push({
      id: p.peerId,
      label: p.name,
      ...at(i, peers.length, RING),
      kind: 'member',
      online: p.online,
      ...offer(p.peerId),
    })
    byName.set(p.name, p.peerId)
  })
  const outside = [
    ...new Set(
      peers.filter((p) => p.path === 'relay' && p.via && !byName.has(p.via)).map((p) => p.via as string),
    ),
  ]
  outside.forEach((name, i) => {
    const id = `relay:${name}`
    nodes.push({
      id,
      label: name,
      ...at(i, outside.length, OUTER),
      kind: 'relay',
      online: true,
      routes: [],
      exit: false,
    })
    byName.set(name, id)
  })
  const links: TopoLink[] = []
  for (const p of peers) {
    const rtt = p.rttMs == null ? '' : ` ${p.rttMs.toFixed(1)} ms`
    if (p.path === 'relay' && p.via) {
      const relay = byName.get(p.via) as string
      links.push({ from: self.peerId, to: relay, kind: 'relay', label: `via ${p.via}` })
      links.push({ from: relay, to: p.peerId, kind: 'relay', label: `${p.name} via ${p.via}${rtt}` })
    } else
      links.push({
        from: self.peerId,
        to: p.peerId,
        kind: p.path === 'direct' ? 'direct' : 'none',
        label: `${p.name}${rtt}`,
      })
  }
  return { nodes, links }
}
