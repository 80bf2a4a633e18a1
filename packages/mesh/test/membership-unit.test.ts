/**
 * The membership rules as pure functions: bindings (who keeps which name and address), the
 * peer table (whom `node:NAME` rules reach), the time and one-use rules of the policy store, and
 * the one signer refusing to call a stale version a success.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ipToUint32, type Policy, parseJoinString, sanitizeName, uint32ToIp } from '@meshlan/wire'
import { assignIdentities, candidateAddress, provisionalName } from '../src/addressing.ts'
import { StalePolicyError } from '../src/errors.ts'
import { bindMembers } from '../src/membership/binder.ts'
import { PolicyStore } from '../src/membership/policy-store.ts'
import { PolicySigner } from '../src/membership/signer.ts'
import { claimMembership, createKey, createNetwork, DENY_ALL_ACL, nextVersion } from '../src/network.ts'
import { computePeerTable } from '../src/peer-table.ts'
import { quiet } from './helpers.ts'

const ids = async (n: number) =>
  Promise.all(
    Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()),
  )

async function network() {
  const ownerKey = await generateKeyPair('Ed25519')
  const { policy } = await createNetwork(ownerKey, { name: 'unit', subnet: '10.9.0.0/24' })
  return { ownerKey, policy }
}

describe('names and addresses', () => {
  it('sanitises hostnames into DNS labels (one normaliser)', () => {
    assert.equal(sanitizeName('My_Laptop.local'), 'my-laptop-local')
    assert.equal(sanitizeName('--NAS--'), 'nas')
    assert.equal(sanitizeName(''), 'node')
    assert.equal(sanitizeName('x'.repeat(80)).length, 63)
  })

  it('the owner binds first come: a later node asking for a bound name gets -2, never the name', async () => {
    const { policy } = await network()
    const [a, b, c] = await ids(3)
    const p1 = bindMembers([{ peerId: a, key: 'owner', wanted: 'server' }], Date.now())(policy)
    const p2 = bindMembers(
      [
        { peerId: b, key: 'owner', wanted: 'server' },
        { peerId: c, key: 'owner', wanted: 'server' },
      ],
      Date.now(),
    )(p1)
    assert.deepEqual(
      p2.members.map((m) => m.name),
      ['server', 'server-2', 'server-3'],
    )
    assert.equal(new Set(p2.members.map((m) => m.ip)).size, 3)
    // binding again changes nothing
    assert.deepEqual(
      bindMembers([{ peerId: a, key: 'owner', wanted: 'x' }], Date.now())(p2).members,
      p2.members,
    )
  })

  it('an unbound node can neither take a bound address (even its exact candidate) nor a bound name', async () => {
    const { policy } = await network()
    const [victim] = await ids(1)
    const bound = bindMembers([{ peerId: victim, key: 'owner', wanted: 'server' }], Date.now())(policy)
    const victimIp = ipToUint32(bound.members[0].ip)
    // grind an identity whose first candidate is the victim's address (a /24 makes it quick)
    let thief = ''
    for (let i = 0; i < 5000 && thief === ''; i++) {
      const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      if (
        candidateAddress(policy.networkId, id, 0, { base: ipToUint32('10.9.0.0'), prefix: 24 }) === victimIp
      )
        thief = id
    }
    assert.notEqual(thief, '', 'no colliding identity found in 5000 tries')
    const out = assignIdentities(
      policy.networkId,
      { base: ipToUint32('10.9.0.0'), prefix: 24 },
      bound.members,
      [
        { peerId: thief, wanted: 'server' },
        { peerId: victim, wanted: 'server' },
      ],
      ipToUint32,
    )
    assert.equal(out.get(victim)?.ip, victimIp)
    assert.notEqual(out.get(thief)?.ip, victimIp)
    assert.equal(out.get(thief)?.name, provisionalName('server', thief))
    assert.equal(out.get(thief)?.bound, false)
  })

  it('node:NAME rules reach bound members only', async () => {
    const { ownerKey, policy: p0 } = await network()
    const k = await createKey(
      p0,
      ownerKey,
      { name: 'guests', acl: { rules: [{ to: ['node:server'], ports: ['22/tcp'] }] } },
      [],
    )
    const [owner, server, thief] = [p0.owner, ...(await ids(2))]
    const policy = bindMembers(
      [
        { peerId: owner, key: 'owner', wanted: 'owner' },
        { peerId: server, key: 'owner', wanted: 'server' },
      ],
      Date.now(),
    )(k.policy)
    const guests = {
      peerId: thief,
      keyName: 'guests',
      acl: k.policy.keys[0].acl,
      tags: ['guests'],
      binding: null,
      endsAt: null,
    }
    const admin = (peerId: string) => ({
      peerId,
      keyName: 'owner',
      acl: { rules: [{ to: ['*'] }] },
      tags: [],
      binding: policy.members.find((m) => m.peerId === peerId) ?? null,
      endsAt: null,
    })
    const table = computePeerTable({
      networkId: policy.networkId,
      policy,
      selfId: thief,
      selfWanted: 'server',
      selfMembership: guests,
      members: [
        { peerId: owner, wanted: 'owner', membership: admin(owner) },
        { peerId: server, wanted: 'server', membership: admin(server) },
      ],
    })
    const serverIp = ipToUint32(policy.members[1].ip)
    assert.equal(table.byName.get('server'), server)
    assert.equal(table.self?.name, provisionalName('server', thief))
    assert.ok(table.outbound?.reachesAnything(serverIp))
    assert.ok(!table.outbound?.reachesAnything(table.self?.ip ?? 0))
    assert.equal(uint32ToIp(table.peers.get(server)?.ip ?? 0), policy.members[1].ip)
  })
})

describe('membership decisions', () => {
  async function setup(init: Parameters<typeof createKey>[2]) {
    const { ownerKey, policy: p0 } = await network()
    const k = await createKey(p0, ownerKey, init, ['/ip4/127.0.0.1/tcp/1/p2p/' + p0.owner])
    const join = parseJoinString(k.joinString)
    assert.ok(join.ok)
    const nodeKey = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(nodeKey).toString()
    const claim = await claimMembership(join.value, nodeKey)
    const store = (self: string) =>
      new PolicyStore({ networkId: p0.networkId, owner: p0.owner, self, log: quiet })
    return { ownerKey, k, peer, claim, store, owner: p0.owner }
  }

  it('a key without --acl reaches nothing (default deny)', async () => {
    const { k } = await setup({ name: 'plain' })
    assert.deepEqual(k.policy.keys[0].acl, DENY_ALL_ACL)
  })

  it('join-by ends admission of unbound nodes; member-expires ends everyone', async () => {
    const now = Date.now()
    const { k, peer, claim, store, ownerKey } = await setup({
      name: 'k',
      reusable: true,
      expiresAt: now + 1000,
      memberExpiresAt: now + 5000,
    })
    const s = store('someone')
    assert.equal(await s.offer(k.envelope), 'accepted')
    assert.ok((await s.membership(peer, claim, now)).ok)
    const late = await s.membership(peer, claim, now + 2000)
    assert.ok(!late.ok && /stopped admitting/.test(late.reason))
    // once bound it survives join-by, not member-expires
    const b = await nextVersion(
      k.policy,
      ownerKey,
      bindMembers([{ peerId: peer, key: 'k', wanted: 'n' }], now),
    )
    assert.equal(await s.offer(b.envelope), 'accepted')
    const m = await s.membership(peer, claim, now + 2000)
    assert.ok(m.ok && m.value.endsAt === now + 5000)
    const gone = await s.membership(peer, claim, now + 5000)
    assert.ok(!gone.ok && /ended/.test(gone.reason))
  })

  it('an unbound one-use claim is refused everywhere but on the owner, with what to do', async () => {
    const { k, peer, claim, store, owner } = await setup({ name: 'once', reusable: false })
    const member = store('someone')
    await member.offer(k.envelope)
    const r = await member.membership(peer, claim)
    assert.ok(!r.ok && /owner must be online/.test(r.reason))
    const onOwner = store(owner)
    await onOwner.offer(k.envelope)
    assert.ok((await onOwner.membership(peer, claim)).ok)
  })

  it('the signer reports a version that was not applied as an error, never as success', async () => {
    const { ownerKey, policy } = await network()
    const store = new PolicyStore({
      networkId: policy.networkId,
      owner: policy.owner,
      self: policy.owner,
      log: quiet,
    })
    const newer = await nextVersion(policy, ownerKey, (p) => p)
    await store.offer(newer.envelope)
    const stale = new PolicySigner({
      ownerKey,
      current: () => policy as Policy, // an out-of-date copy (as policy.bin was)
      apply: async (env, p) => {
        const r = await store.offer(env)
        if (r !== 'accepted') throw new StalePolicyError(p.version, String(r))
      },
    })
    await assert.rejects(
      stale.amend((p) => p),
      StalePolicyError,
    )
  })
})
