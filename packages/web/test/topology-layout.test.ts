/**
 * The topology picture's layout, without a browser: direct and relayed links, a relay that is a
 * member and one that is not, subnet routers and exit nodes (the browser test's loopback mesh has
 * only direct paths).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { layout, VIEW } from '../src/topology-layout.ts'
import type { Peer, RouteNode } from '../src/types.ts'

function peer(name: string, over: Partial<Peer> = {}): Peer {
  return {
    name,
    ip: '10.144.0.2',
    peerId: `id-${name}`,
    path: 'direct',
    rttMs: 1.5,
    rxBytes: 0,
    txBytes: 0,
    key: 'k',
    bound: true,
    online: true,
    via: null,
    why: null,
    addr: null,
    family: null,
    routes: [],
    exitNode: false,
    version: null,
    lastSeen: null,
    endpoints: [],
    ...over,
  }
}

const self = { name: 'owner', peerId: 'id-owner' }

describe('topology layout', () => {
  it('a direct member: one solid link from this node', () => {
    const { nodes, links } = layout(self, [peer('laptop')], [])
    assert.deepEqual(
      nodes.map((n) => [n.label, n.kind]),
      [
        ['owner', 'self'],
        ['laptop', 'member'],
      ],
    )
    assert.deepEqual(links, [{ from: 'id-owner', to: 'id-laptop', kind: 'direct', label: 'laptop 1.5 ms' }])
    for (const n of nodes) assert.ok(n.x >= 0 && n.x <= VIEW && n.y >= 0 && n.y <= VIEW, `${n.label} in view`)
  })

  it('relayed through a member: two dashed links through that member, no extra node', () => {
    const { nodes, links } = layout(
      self,
      [peer('relay1'), peer('phone', { path: 'relay', via: 'relay1', why: 'symmetric-nat' })],
      [],
    )
    assert.equal(nodes.length, 3)
    assert.deepEqual(
      links.filter((l) => l.kind === 'relay').map((l) => [l.from, l.to]),
      [
        ['id-owner', 'id-relay1'],
        ['id-relay1', 'id-phone'],
      ],
    )
  })

  it('relayed through a relay that is not a member: a relay node on the outer ring', () => {
    const { nodes, links } = layout(self, [peer('phone', { path: 'relay', via: 'public-relay' })], [])
    const relay = nodes.find((n) => n.kind === 'relay')
    assert.equal(relay?.label, 'public-relay')
    assert.ok(links.some((l) => l.to === 'id-phone' && l.from === relay?.id && l.kind === 'relay'))
  })

  it('subnet routers and exit nodes: the approved prefixes and the exit flag, from the route list', () => {
    const routes: RouteNode[] = [
      {
        peerId: 'id-nas',
        name: 'nas',
        ip: null,
        advertised: ['192.168.1.0/24', '10.9.0.0/16'],
        approved: ['192.168.1.0/24', 'exit'],
        primary: ['192.168.1.0/24'],
        exitNode: { advertised: true, approved: true },
      },
    ]
    const { nodes } = layout(self, [peer('nas'), peer('offline', { online: false, path: 'none' })], routes)
    const nas = nodes.find((n) => n.label === 'nas')
    assert.deepEqual(nas?.routes, ['192.168.1.0/24'], 'only approved prefixes, not the exit route')
    assert.equal(nas?.exit, true)
    assert.equal(nodes.find((n) => n.label === 'offline')?.online, false)
  })
})
