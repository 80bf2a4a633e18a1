/**
 * What the idle-cost changes (issue 14) must keep: a record handed on by sync some minutes after it
 * was made is still accepted, a refresh that says nothing new changes nothing, our record goes out
 * when it changes and not otherwise, and "online" follows the connection's keepalive.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_AGE_MS,
  PEER_STORE_REFRESH_MS,
  RECORD_OFFLINE_MS,
  RECORD_REFRESH_MS,
} from '../src/constants.ts'
import { RecordStore } from '../src/topology/records.ts'
import { buildMesh, quiet, type TestMesh, until, waitConverged } from './helpers.ts'

describe('idle topology (issue 14)', () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({
      members: [
        { name: 'm1', key: 'admin' },
        { name: 'm2', key: 'admin' },
      ],
      keys: { admin: { rules: [{ to: ['*'] }] } },
    })
    await waitConverged([mesh.owner, ...mesh.nodes], 2, 15_000)
  })
  after(async () => mesh?.stop())

  it('a record made up to MAX_RECORD_AGE_MS ago is accepted (sync hands on 10-min-old ones); older is stale, ahead of our clock is refused', async () => {
    const m1 = mesh.nodes[0]
    const bytes = m1.topology.ownRecord
    assert.ok(bytes)
    const rec = mesh.owner.topology.get(m1.peerId)?.record
    assert.ok(rec)
    const fresh = () => new RecordStore(mesh.owner.peerId, mesh.owner.membership.store, quiet)
    assert.equal(await fresh().offer(bytes, rec.ts + RECORD_REFRESH_MS), 'accepted')
    assert.equal(await fresh().offer(bytes, rec.ts + MAX_RECORD_AGE_MS - 1000), 'accepted')
    assert.equal(await fresh().offer(bytes, rec.ts + MAX_RECORD_AGE_MS + 1000), 'stale')
    const ahead = await fresh().offer(bytes, rec.ts - MAX_CLOCK_SKEW_MS - 1000)
    assert.ok(typeof ahead === 'object' && /ahead of our clock/.test(ahead.rejected))
  })

  it("a recompute writes a member's addresses into libp2p's peer store when they change, not every time", async () => {
    const o = mesh.owner
    const ps = o.libp2pNode.peerStore
    const merge = ps.merge
    const written: string[] = []
    ps.merge = async (id, data) => {
      written.push(id.toString())
      return merge.call(ps, id, data)
    }
    try {
      for (let i = 0; i < 5; i++) await o.recompute()
      assert.deepEqual(written, [], 'unchanged addresses are not written again')
      const rec = o.topology.get(mesh.nodes[0].peerId)?.record
      assert.ok(rec && rec.addrs.length > 0)
      const moved = { ...rec, addrs: [...rec.addrs, `/ip4/198.18.0.9/tcp/7946/p2p/${rec.peerId}`] }
      await o.topology.rememberAddrs(moved)
      await o.topology.rememberAddrs(moved)
      assert.deepEqual(written, [rec.peerId], 'new addresses are written, once')
      const known = (await ps.get(peerIdFromString(rec.peerId))).addresses.map((a) => a.multiaddr.toString())
      assert.ok(known.includes('/ip4/198.18.0.9/tcp/7946'), 'and the peer store has them')
      // the peer store forgets an address an hour after it was last given: written again in time
      await o.topology.rememberAddrs(moved, Date.now() + PEER_STORE_REFRESH_MS)
      assert.equal(written.length, 2)
    } finally {
      ps.merge = merge
    }
  })

  it('a refresh that says what the last record said emits no change; a new record does', async () => {
    const m1 = mesh.nodes[0]
    const store = new RecordStore(mesh.owner.peerId, mesh.owner.membership.store, quiet)
    let changes = 0
    store.on('change', () => changes++)
    const first = m1.topology.ownRecord
    assert.ok(first)
    assert.equal(await store.offer(first), 'accepted')
    assert.equal(changes, 1)
    await m1.topology.publishRecord() // a refresh: new seq, same content
    const refresh = m1.topology.ownRecord
    assert.ok(refresh && refresh !== first)
    assert.equal(await store.offer(refresh), 'accepted')
    assert.equal(changes, 1, 'a refresh is no change')
    await m1.setRouting({ advertiseRoutes: ['192.168.77.0/24'] })
    const changed = m1.topology.ownRecord
    assert.ok(changed && changed !== refresh)
    assert.equal(await store.offer(changed), 'accepted')
    assert.equal(changes, 2, 'a record that says something new is a change')
    await m1.setRouting({ advertiseRoutes: [] })
  })

  it('publishIfChanged sends nothing while our record says the same', async () => {
    const m2 = mesh.nodes[1]
    await m2.topology.publishRecord()
    const before = m2.topology.ownRecord
    await m2.topology.publishIfChanged()
    await m2.topology.publishIfChanged()
    assert.equal(m2.topology.ownRecord, before)
  })

  it('online: a connected member whose keepalive answers; without a connection, a record younger than RECORD_OFFLINE_MS', async () => {
    const owner = mesh.owner
    const m2 = mesh.nodes[1]
    const known = owner.topology.get(m2.peerId)
    assert.ok(known)
    assert.ok(owner.libp2pNode.getConnections(peerIdFromString(m2.peerId)).length > 0)
    assert.equal(owner.topology.isOnline(known), true)
    // the same record, heard long ago, with no connection: offline
    const stale = { ...known, receivedAt: Date.now() - RECORD_OFFLINE_MS - 1000 }
    assert.equal(owner.topology.isOnline(stale), true, 'the connection says it is there')
    await owner.libp2pNode.hangUp(peerIdFromString(m2.peerId))
    await until(
      () => owner.libp2pNode.getConnections(peerIdFromString(m2.peerId)).length === 0,
      5000,
      'hang-up',
    )
    assert.equal(owner.topology.isOnline(stale), false)
    assert.equal(owner.topology.isOnline({ ...known, receivedAt: Date.now() }), true)
  })
})
