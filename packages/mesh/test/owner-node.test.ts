/**
 * PolicyStore.isOwnerNode (a protected network, issue 11): the owner key is not a node key, so the
 * owner's node is the one the owner bound under the reserved key name `owner`. Not any other
 * binding, not before the binding, not when a mesh key carries that name; and a revoked owner's
 * node gets no membership.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { bindMembers } from '../src/membership/binder.ts'
import { OWNER_KEY_NAME, PolicyStore } from '../src/membership/policy-store.ts'
import { createKey, createNetwork, nextVersion, revokeNodeChange } from '../src/network.ts'
import { quiet } from './helpers.ts'

const peer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

async function protectedNetwork() {
  const ownerKey = await generateKeyPair('Ed25519') // the separate signing key, no node runs on it
  const { policy } = await createNetwork(ownerKey, { name: 'prot', subnet: '10.9.0.0/24' })
  const ownerNode = await peer()
  const bound = await nextVersion(
    policy,
    ownerKey,
    bindMembers([{ peerId: ownerNode, key: OWNER_KEY_NAME, wanted: 'owner-box' }], Date.now()),
  )
  const store = new PolicyStore({
    networkId: policy.networkId,
    owner: policy.owner,
    self: await peer(),
    log: quiet,
  })
  return { ownerKey, policy, bound, ownerNode, store }
}

describe('PolicyStore.isOwnerNode', () => {
  it('the owner key itself is; the node bound under "owner" is once that binding is known', async () => {
    const { policy, bound, ownerNode, store } = await protectedNetwork()
    assert.equal(store.isOwnerNode(policy.owner), true, 'the owner peer id, even with no policy yet')
    assert.equal(store.isOwnerNode(ownerNode), false, 'no policy yet')
    assert.equal(await store.offer(bound.envelope), 'accepted')
    assert.equal(store.isOwnerNode(ownerNode), true)
    assert.equal(store.isOwnerNode(await peer()), false, 'a stranger')
    const m = await store.membership(ownerNode, null)
    assert.ok(m.ok, 'the owner node is a member without a claim')
    assert.equal(m.value.keyName, OWNER_KEY_NAME)
  })

  it('a node bound under an ordinary key is not the owner node', async () => {
    const { ownerKey, bound, store } = await protectedNetwork()
    const k = await createKey(bound.policy, ownerKey, { name: 'laptops', reusable: true }, [])
    const member = await peer()
    const b = await nextVersion(
      k.policy,
      ownerKey,
      bindMembers([{ peerId: member, key: 'laptops', wanted: 'laptop' }], Date.now()),
    )
    assert.equal(await store.offer(b.envelope), 'accepted')
    assert.equal(store.isOwnerNode(member), false)
  })

  it('a policy with a mesh key named "owner" grants nobody owner-node status that way', async () => {
    const { ownerKey, bound, ownerNode, store } = await protectedNetwork()
    // the controller refuses the name; a policy that has it anyway must not be a way in
    const k = await createKey(bound.policy, ownerKey, { name: OWNER_KEY_NAME }, [])
    assert.equal(await store.offer(k.envelope), 'accepted')
    assert.equal(store.isOwnerNode(ownerNode), false)
  })

  it("a revoked owner's node gets no membership", async () => {
    const { ownerKey, bound, ownerNode, store } = await protectedNetwork()
    const r = await nextVersion(bound.policy, ownerKey, revokeNodeChange(ownerNode))
    assert.equal(await store.offer(r.envelope), 'accepted')
    const m = await store.membership(ownerNode, null)
    assert.ok(!m.ok && /revoked/.test(m.reason))
  })
})
