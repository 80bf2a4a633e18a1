/**
 * Subnet routes and exit nodes on real nodes (in-process, memory transport): offers travel in the
 * records, the owner's approval reaches the clients, auto-approval, live settings, HA takeover.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { approveRoute, InvalidRouteError, RouteOverlapsOverlayError, revokeRoute } from '../src/network.ts'
import type { MeshNode } from '../src/node.ts'
import type { HostRouting } from '../src/routing/settings.ts'
import { buildMesh, joinNode, ownerKey, type TestMesh, until } from './helpers.ts'

const LAN = '192.168.1.0/24'
const ALL = { rules: [{ to: ['*'] }] }

const routesSeenBy = (n: MeshNode, peer: MeshNode) =>
  n.status().peers.find((p) => p.peerId === peer.peerId)?.routes

describe('routes on running nodes', { timeout: 60_000 }, () => {
  let mesh: TestMesh
  after(() => mesh?.stop())

  it('advertised + approved reaches the client; HA takeover < 3 s; revocation removes it', async () => {
    mesh = await buildMesh({
      keys: { all: ALL },
      members: [
        { name: 'r1', key: 'all' },
        { name: 'r2', key: 'all' },
        { name: 'client', key: 'all' },
      ],
    })
    const [x, y, client] = mesh.nodes
    const [primary, standby] = x.peerId < y.peerId ? [x, y] : [y, x]
    await until(
      () => client.status().peers.length === 3 && client.status().peers.every((p) => p.bound),
      15_000,
    )
    await Promise.all([x, y].map((r) => r.setRouting({ advertiseRoutes: [LAN] })))
    await client.setRouting({ acceptRoutes: true })
    assert.deepEqual(x.status().self.routes, { advertised: [LAN], approved: [] })
    // advertised but not approved: nobody routes it
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(routesSeenBy(client, primary), [])
    assert.deepEqual(routesSeenBy(client, standby), [])

    for (const r of [x, y]) await mesh.owner.amendPolicy(approveRoute(r.peerId, LAN))
    await until(() => routesSeenBy(client, primary)?.[0] === LAN, 10_000, 'the primary serves the LAN')
    assert.deepEqual(routesSeenBy(client, standby), [], 'one primary per prefix')
    assert.deepEqual(primary.status().self.routes, { advertised: [LAN], approved: [LAN] })

    const t0 = Date.now()
    await primary.stop()
    await until(() => routesSeenBy(client, standby)?.[0] === LAN, 3_000, 'the standby takes over')
    const takeoverMs = Date.now() - t0
    console.log(`HA takeover after the primary stopped: ${takeoverMs} ms`)
    assert.ok(takeoverMs < 3_000)

    await mesh.owner.amendPolicy(revokeRoute(standby.peerId, LAN))
    const revokeMs = await until(() => routesSeenBy(client, standby)?.length === 0, 2_000, 'revocation')
    console.log(`route revocation reached the client in ${revokeMs} ms`)
  })

  it('bad settings are refused before anything changes', async () => {
    const [, , client] = mesh.nodes
    await assert.rejects(client.setRouting({ advertiseRoutes: ['10.144.5.0/24'] }), RouteOverlapsOverlayError)
    await assert.rejects(client.setRouting({ advertiseRoutes: ['192.168.1.1/24'] }), InvalidRouteError)
    await assert.rejects(client.setRouting({ advertiseRoutes: ['127.0.0.0/8'] }), InvalidRouteError)
    await assert.rejects(
      client.setRouting({ advertiseRoutes: ['192.168.0.0/16', '192.168.4.0/24'] }),
      /overlaps 192\.168\.0\.0\/16: advertise one of them/,
    )
    assert.deepEqual(client.status().self.routes.advertised, [])
  })

  it("a key's autoApprove approves the member's offer; a client uses it as exit node by name", async () => {
    const join = await ownerKey(mesh, 'boxes', {
      acl: ALL,
      autoApprove: { routes: ['192.168.0.0/16'], exit: true },
    })
    const box = await joinNode(mesh, join, 'box')
    await box.setRouting({ advertiseRoutes: [LAN, '172.16.0.0/24'], advertiseExitNode: true })
    await until(
      () =>
        (mesh.owner.membership.store.policy?.routes ?? []).filter((r) => r.peerId === box.peerId).length ===
        2,
      10_000,
      'auto-approval',
    )
    const approved = mesh.owner.membership.store.policy?.routes.filter((r) => r.peerId === box.peerId)
    assert.deepEqual(approved?.map((r) => r.route).sort(), [LAN, 'exit'], '172.16.0.0/24 is not covered')
    const client = mesh.nodes[2]
    const events: HostRouting[] = []
    client.on('routing', (r) => events.push(r))
    await client.setRouting({ exitNode: box.name })
    await until(() => client.status().self.exitNode === box.name, 10_000, 'the exit node in use')
    // the host is told which exit node to route to (its overlay address), and the box that it serves
    await until(() => events.at(-1)?.exit?.name === box.name, 5_000, 'the routing event names the exit')
    assert.equal(events.at(-1)?.exit?.ip, box.address)
    const served: HostRouting[] = []
    box.on('routing', (r) => served.push(r))
    await box.recompute()
    assert.equal(served.at(-1)?.exitServed, true)
    assert.equal(client.status().self.exitNodeError, null)
    assert.equal(client.status().peers.find((p) => p.peerId === box.peerId)?.exitNode, true)
    await client.setRouting({ exitNode: mesh.nodes[1].name })
    await until(() => client.status().self.exitNode == null, 5_000)
    assert.match(client.status().self.exitNodeError ?? '', /exit node/)
  })
})
