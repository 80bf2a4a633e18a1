import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseJoinString } from '@meshlan/wire'
import { claimMembership } from '../src/network.ts'
import { buildMesh, type TestMesh, until } from './helpers.ts'

describe('one-use keys', () => {
  let mesh: TestMesh
  after(async () => mesh?.stop())

  it('bind to the first member that uses them; another node with the same key is refused', async () => {
    mesh = await buildMesh({
      members: [{ name: 'first', key: 'once' }],
      keys: { once: { rules: [{ to: ['*'] }] } },
      oneUse: ['once'],
    })
    const [first] = mesh.nodes
    await until(
      () => mesh.owner.membership.store.key('once')?.claimedBy === first.peerId,
      10_000,
      'the key to be bound',
    )
    assert.equal(mesh.owner.membership.store.key('once')?.reusable, false)
    // every node has the binding, and the first member stays a member
    await until(
      () => first.membership.store.key('once')?.claimedBy === first.peerId,
      5000,
      'the binding to spread',
    )
    await until(() => first.status().self.member, 2000, 'the first member to count itself in')
    // a second identity signs a perfectly valid claim with the same join string: refused
    const join = parseJoinString(mesh.joins.once)
    assert.ok(join.ok)
    const key2 = await generateKeyPair('Ed25519')
    const claim2 = await claimMembership(join.value, key2)
    const r = await mesh.owner.membership.store.membership(peerIdFromPrivateKey(key2).toString(), claim2)
    assert.equal(r.ok, false)
    assert.ok(!r.ok && /already used/.test(r.reason), JSON.stringify(r))
  })
})
