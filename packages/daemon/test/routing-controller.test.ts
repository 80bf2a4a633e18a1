/**
 * `meshlan route list|approve|revoke` through the controller (offline, on a state directory):
 * approvals are signed into the policy; unknown nodes, unadvertised routes, the overlay subnet and
 * bad prefixes are refused with named errors.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  bindMembers,
  InvalidRouteError,
  nextVersion,
  RouteNotAdvertisedError,
  RouteNotApprovedError,
  RouteOverlapsOverlayError,
  UnknownNodeError,
} from '@meshlan/mesh'
import { decodePolicy, encodeRecord } from '@meshlan/wire'
import { Controller } from '../src/controller.ts'
import { StateDir } from '../src/state.ts'

const LAN = '192.168.1.0/24'

describe('route approvals through the controller', () => {
  let root: string
  let owner: Controller
  let records: Uint8Array[] = []
  let routerId = ''
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-route-'))
    const state = new StateDir(join(root, 'owner'))
    owner = new Controller({
      state,
      hostRoutes: async () => [],
      hostAddresses: () => ['192.0.2.10'],
      hooks: { records: () => records },
    })
    await owner.init({ name: 'owner' })
    await owner.networkCreate({ name: 'home', subnet: '172.30.0.0/16' })
    // a bound router whose record advertises the LAN (as a running owner would have it)
    const ownerKey = await state.requireIdentity()
    const routerKey = await generateKeyPair('Ed25519')
    routerId = peerIdFromPrivateKey(routerKey).toString()
    const cur = decodePolicy((await state.readPolicy()) as Uint8Array)
    assert.ok(cur.ok)
    const bound = await nextVersion(
      cur.value.body,
      ownerKey,
      bindMembers([{ peerId: routerId, key: 'owner', wanted: 'router' }], Date.now()),
    )
    await state.writePolicy(bound.envelope)
    const ip = bound.policy.members[0].ip
    records = [
      await encodeRecord(
        {
          type: 'record',
          v: 1,
          networkId: bound.policy.networkId,
          peerId: routerId,
          seq: 1,
          ts: Date.now(),
          name: 'router',
          ip,
          counter: 0,
          addrs: [],
          links: [],
          relays: [],
          claim: null,
          policyVersion: bound.policy.version,
          routes: [LAN, '10.20.0.0/16'],
        },
        routerKey,
      ),
    ]
  })
  after(async () => rm(root, { recursive: true, force: true }))

  it('list shows the offer; approve signs it; list shows it approved and primary', async () => {
    const before = await owner.routeList({})
    assert.deepEqual(before.nodes[0].advertised, [LAN, '10.20.0.0/16'])
    assert.deepEqual(before.nodes[0].approved, [])
    const r = await owner.routeApprove({ node: 'router', route: LAN })
    assert.equal(r.peerId, routerId)
    const after = await owner.routeList({})
    assert.deepEqual(after.nodes[0].approved, [LAN])
    assert.deepEqual(after.nodes[0].primary, [LAN])
    assert.deepEqual(after.nodes[0].exitNode, { advertised: false, approved: false })
  })

  it('refuses: not advertised, exit not offered, overlay subnet, bad prefix, unknown node', async () => {
    await assert.rejects(
      owner.routeApprove({ node: 'router', route: '10.30.0.0/16' }),
      RouteNotAdvertisedError,
    )
    await assert.rejects(
      owner.routeApprove({ node: 'router', route: 'exit' }),
      /does not offer to be an exit node/,
    )
    await assert.rejects(
      owner.routeApprove({ node: 'router', route: '172.30.4.0/24' }),
      RouteOverlapsOverlayError,
    )
    await assert.rejects(owner.routeApprove({ node: 'router', route: '192.168.1.1/24' }), InvalidRouteError)
    await assert.rejects(owner.routeApprove({ node: 'router', route: '127.0.0.0/8' }), InvalidRouteError)
    await assert.rejects(owner.routeApprove({ node: 'ghost', route: LAN }), UnknownNodeError)
  })

  it('revoke removes the approval; revoking again says there is none', async () => {
    await owner.routeRevoke({ node: 'router', route: LAN })
    assert.deepEqual((await owner.routeList({})).nodes[0].approved, [])
    await assert.rejects(owner.routeRevoke({ node: 'router', route: LAN }), RouteNotApprovedError)
  })

  it('key create --auto-approve-routes / --auto-approve-exit land in the signed policy', async () => {
    await owner.keyCreate({
      name: 'routers',
      reusable: true,
      autoApprove: { routes: ['192.168.0.0/16'], exit: true },
    })
    const p = decodePolicy((await owner.state.readPolicy()) as Uint8Array)
    assert.ok(p.ok)
    assert.deepEqual(p.value.body.keys.find((k) => k.name === 'routers')?.autoApprove, {
      routes: ['192.168.0.0/16'],
      exit: true,
    })
    await assert.rejects(
      owner.keyCreate({ name: 'bad', autoApprove: { routes: ['8.8.8.8/33'], exit: false } }),
      /8\.8\.8\.8\/33/,
    )
  })
})
