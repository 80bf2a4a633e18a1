/**
 * Delegated admins in the policy store (issue 11, owner continuity): a policy signed by a node the
 * owner certified is accepted by every node; the certificate cannot be forged or stretched; an admin
 * cannot touch the owner's node or another admin; removing an admin (a new epoch) makes its later
 * versions lose whatever their number; two admins signing one version at once settle on one
 * document everywhere.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodePolicy, type Policy, signAdmins } from '@meshlan/wire'
import { bindMembers } from '../src/membership/binder.ts'
import { OWNER_KEY_NAME, PolicyStore } from '../src/membership/policy-store.ts'
import {
  createKey,
  createNetwork,
  nextVersion,
  removeKey,
  revokeNodeChange,
  setAdmins,
} from '../src/network.ts'
import { quiet } from './helpers.ts'

const idOf = (k: PrivateKey) => peerIdFromPrivateKey(k).toString()

async function setup() {
  const ownerKey = await generateKeyPair('Ed25519')
  const adminKey = await generateKeyPair('Ed25519')
  const otherAdmin = await generateKeyPair('Ed25519')
  const ownerNode = idOf(await generateKeyPair('Ed25519'))
  const { policy } = await createNetwork(ownerKey, { name: 'deleg', subnet: '10.9.0.0/24' })
  const k0 = await createKey(policy, ownerKey, { name: 'lan', reusable: true }, [])
  const k = await createKey(k0.policy, ownerKey, { name: 'guests', reusable: true }, [])
  const bound = await nextVersion(
    k.policy,
    ownerKey,
    bindMembers(
      [
        { peerId: ownerNode, key: OWNER_KEY_NAME, wanted: 'owner-box' },
        { peerId: idOf(adminKey), key: 'lan', wanted: 'nas' },
        { peerId: idOf(otherAdmin), key: 'lan', wanted: 'pi' },
      ],
      Date.now(),
    ),
  )
  const cert = await signAdmins(ownerKey, policy.networkId, 1, [idOf(adminKey), idOf(otherAdmin)])
  const delegated = await nextVersion(bound.policy, ownerKey, setAdmins(cert))
  const store = () =>
    new PolicyStore({
      networkId: policy.networkId,
      owner: policy.owner,
      self: idOf(adminKey),
      log: quiet,
    })
  return { ownerKey, adminKey, otherAdmin, ownerNode, delegated, store }
}

/** Signs `p` (already changed) as the next version with `key`, bypassing any check. */
async function signAs(key: PrivateKey, p: Policy, version = p.version + 1): Promise<Uint8Array> {
  return encodePolicy({ ...p, version, issuedAt: Date.now() }, key)
}

describe('delegated admins', () => {
  it('an admin-signed version is accepted; a stranger’s, or one under a forged certificate, is not', async () => {
    const { adminKey, delegated, store: mk } = await setup()
    const s = mk()
    assert.equal(await s.offer(delegated.envelope), 'accepted')
    assert.equal(s.isAdmin(idOf(adminKey)), true)
    const revoked = await nextVersion(delegated.policy, adminKey, removeKey('guests'))
    assert.equal(await s.offer(revoked.envelope), 'accepted')
    assert.equal(s.version, delegated.policy.version + 1)

    const stranger = await generateKeyPair('Ed25519')
    const r = await s.offer(await signAs(stranger, revoked.policy))
    assert.deepEqual(r, { rejected: 'policy is signed by neither the owner nor a delegated admin' })

    // the stranger certifies itself (its own signature on the certificate): not the owner's
    const forged = await signAdmins(stranger, revoked.policy.networkId, 9, [idOf(stranger)])
    const f = await s.offer(await signAs(stranger, { ...revoked.policy, admins: forged }))
    assert.deepEqual(f, { rejected: 'policy is signed by neither the owner nor a delegated admin' })

    // an admin cannot stretch the owner's certificate: adding itself another admin breaks its signature
    const stretched = { ...revoked.policy.admins!, nodes: [...revoked.policy.admins!.nodes, idOf(stranger)] }
    const g = await s.offer(await signAs(adminKey, { ...revoked.policy, admins: stretched }))
    assert.deepEqual(g, { rejected: 'policy is signed by neither the owner nor a delegated admin' })
  })

  it('an admin cannot revoke, rebind or add an owner’s node, shadow its key name, change the subnet, or revoke another admin', async () => {
    const { adminKey, otherAdmin, ownerNode, delegated, store: mk } = await setup()
    const s = mk()
    await s.offer(delegated.envelope)
    const a = await nextVersion(delegated.policy, adminKey, revokeNodeChange(ownerNode))
    assert.match(
      JSON.stringify(await s.offer(a.envelope)),
      /an admin cannot (change the owner’s node|revoke the owner’s or an admin’s node)/,
    )
    const b = await nextVersion(delegated.policy, adminKey, revokeNodeChange(idOf(otherAdmin)))
    assert.match(JSON.stringify(await s.offer(b.envelope)), /an admin cannot (revoke|change an admin)/)
    const c = await nextVersion(delegated.policy, adminKey, (p) => ({
      ...p,
      members: p.members.map((m) => (m.key === OWNER_KEY_NAME ? { ...m, name: 'mine-now' } : m)),
    }))
    assert.match(JSON.stringify(await s.offer(c.envelope)), /an admin cannot change the owner’s node/)
    const d = await nextVersion(delegated.policy, adminKey, (p) => ({
      ...p,
      members: p.members.map((m) => (m.peerId === idOf(adminKey) ? { ...m, key: OWNER_KEY_NAME } : m)),
    }))
    assert.match(JSON.stringify(await s.offer(d.envelope)), /an admin cannot bind a node as the owner’s/)
    const e = await nextVersion(delegated.policy, adminKey, (p) => ({
      ...p,
      keys: [...p.keys, { ...p.keys[0], name: OWNER_KEY_NAME }],
    }))
    assert.match(JSON.stringify(await s.offer(e.envelope)), /cannot create a key named owner/)
    // the other admin joined with key `lan`: removing it would cut that admin off
    const g = await nextVersion(delegated.policy, adminKey, removeKey('lan'))
    assert.match(
      JSON.stringify(await s.offer(g.envelope)),
      /an admin cannot change an admin node’s binding or key/,
    )
    // nor shut the other admin out through its key: revoked, expired, or another public key (red-team F2)
    for (const [what, change] of [
      [
        'revoked',
        (p: Policy) => ({
          ...p,
          revokedKeys: [
            ...p.revokedKeys,
            {
              name: 'lan',
              publicKey: p.keys.find((k) => k.name === 'lan')!.publicKey,
              revokedAt: Date.now(),
            },
          ],
        }),
      ],
      [
        'expired',
        (p: Policy) => ({
          ...p,
          keys: p.keys.map((k) => (k.name === 'lan' ? { ...k, memberExpiresAt: 1 } : k)),
        }),
      ],
      [
        'rekeyed',
        (p: Policy) => ({
          ...p,
          keys: p.keys.map((k) =>
            k.name === 'lan' ? { ...k, publicKey: p.keys.find((x) => x.name === 'guests')!.publicKey } : k,
          ),
        }),
      ],
    ] as const) {
      const v = await nextVersion(delegated.policy, adminKey, change)
      assert.match(
        JSON.stringify(await s.offer(v.envelope)),
        /an admin cannot change an admin node’s binding or key/,
        what,
      )
    }
    const f = await nextVersion(delegated.policy, adminKey, (p) => ({ ...p, subnet: '10.8.0.0/24' }))
    assert.match(JSON.stringify(await s.offer(f.envelope)), /cannot change the subnet/)
    assert.equal(s.version, delegated.policy.version, 'nothing was taken')
  })

  it('a removed admin’s versions lose to the next epoch, whatever their number; no admin leaps', async () => {
    const { ownerKey, adminKey, otherAdmin, delegated, store: mk } = await setup()
    const s = mk()
    await s.offer(delegated.envelope)
    // the owner removes adminKey: epoch 2, at the next version
    const cert2 = await signAdmins(ownerKey, delegated.policy.networkId, 2, [idOf(otherAdmin)])
    const removed = await nextVersion(delegated.policy, ownerKey, setAdmins(cert2))
    // meanwhile the removed admin signed a far higher version under epoch 1
    // an admin cannot leap to a version the owner's signer could not go above (red-team F1)
    const brick = await signAs(
      adminKey,
      removeKey('guests')(structuredClone(delegated.policy)),
      Number.MAX_SAFE_INTEGER,
    )
    assert.match(JSON.stringify(await s.offer(brick)), /at most 65536 above the one held/)
    const jump = await signAs(
      adminKey,
      removeKey('guests')(structuredClone(delegated.policy)),
      delegated.policy.version + 60_000,
    )
    assert.equal(await s.offer(jump), 'accepted', 'before the removal is known it is a valid version')
    assert.equal(await s.offer(removed.envelope), 'accepted', 'the next epoch wins over a higher version')
    assert.equal(s.isAdmin(idOf(adminKey)), false)
    assert.equal(await s.offer(jump), 'stale')
    const again = await signAs(adminKey, removed.policy)
    assert.deepEqual(await s.offer(again), {
      rejected: 'policy is signed by neither the owner nor a delegated admin',
    })
    // a fresh node that never saw epoch 1 takes epoch 2 and refuses the jump
    const fresh = mk()
    assert.equal(await fresh.offer(removed.envelope), 'accepted')
    assert.equal(await fresh.offer(jump), 'stale')
  })

  it('two admins sign one version at once: every node settles on the same document', async () => {
    const { adminKey, otherAdmin, delegated, store: mk } = await setup()
    const x = await nextVersion(delegated.policy, adminKey, removeKey('guests'))
    const y = await nextVersion(delegated.policy, otherAdmin, (p) => ({ ...p, name: 'renamed' }))
    assert.equal(x.policy.version, y.policy.version)
    const one = mk()
    const two = mk()
    for (const s of [one, two]) await s.offer(delegated.envelope)
    await one.offer(x.envelope)
    await one.offer(y.envelope)
    await two.offer(y.envelope)
    await two.offer(x.envelope)
    assert.deepEqual(one.envelope, two.envelope)
  })
})
