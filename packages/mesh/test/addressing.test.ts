import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { networkIdFrom, uint32ToIp } from '@meshlan/wire'
import { assignAddresses, candidateAddress } from '../src/addressing.ts'
import { RouteTable } from '../src/route-table.ts'
import { addressView, buildMesh, type TestMesh, until, waitConverged } from './helpers.ts'

describe('addresses from identity', () => {
  const subnet = { base: 0x0a900000, prefix: 16 }
  it('are stable and inside the subnet, never network or broadcast', () => {
    for (let i = 0; i < 1000; i++) {
      const ip = candidateAddress('nabc', `peer-${i}`, 0, subnet)
      assert.equal(ip, candidateAddress('nabc', `peer-${i}`, 0, subnet))
      assert.ok(ip > subnet.base && ip < subnet.base + 65535)
    }
  })
  it('resolve collisions the same way whatever the order', () => {
    const tiny = { base: 0x0a900000, prefix: 29 } // 6 hosts: collisions are certain
    const ids = ['c', 'a', 'e', 'b', 'd', 'f']
    const a = assignAddresses('n1', tiny, ids)
    const b = assignAddresses('n1', tiny, [...ids].reverse())
    assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort())
    assert.equal(new Set([...a.values()].map((x) => x.ip)).size, 6)
    assert.equal(
      assignAddresses('n1', tiny, [...ids, 'g']).size,
      6,
      'a full subnet leaves the rest unassigned',
    )
  })
})

describe('route table', () => {
  it('does longest-prefix match', () => {
    const t = new RouteTable<string>()
    t.set(0x0a900000, 16, 'net')
    t.set(0x0a900005, 32, 'host')
    t.set(0xc0a80100, 24, 'lan')
    assert.equal(t.lookup(0x0a900005), 'host')
    assert.equal(t.lookup(0x0a900006), 'net')
    assert.equal(t.lookup(0xc0a80107), 'lan')
    assert.equal(t.lookup(0x08080808), undefined)
    t.delete(0x0a900005, 32)
    assert.equal(t.lookup(0x0a900005), 'net')
  })
})

describe('a forced address collision (crafted identities)', () => {
  let mesh: TestMesh
  after(async () => mesh?.stop())
  it('ends with distinct addresses and the same view on every node', async () => {
    // grind two member identities whose first candidate address collides in a /29 network
    const tiny = { base: 0x0a900000, prefix: 29 }
    const ownerKey = await generateKeyPair('Ed25519')
    const createdAt = Date.now()
    const networkId = networkIdFrom(peerIdFromPrivateKey(ownerKey).toString(), 'test', createdAt)
    const ownerIp = candidateAddress(networkId, peerIdFromPrivateKey(ownerKey).toString(), 0, tiny)
    const byIp = new Map<number, PrivateKey>()
    let pair: PrivateKey[] = []
    for (let i = 0; i < 500 && pair.length === 0; i++) {
      const k = await generateKeyPair('Ed25519')
      const ip = candidateAddress(networkId, peerIdFromPrivateKey(k).toString(), 0, tiny)
      if (ip === ownerIp) continue
      const prev = byIp.get(ip)
      if (prev != null) pair = [prev, k]
      else byIp.set(ip, k)
    }
    assert.equal(pair.length, 2, 'found two colliding identities')
    const wanted = candidateAddress(networkId, peerIdFromPrivateKey(pair[0]).toString(), 0, tiny)
    mesh = await buildMesh({
      members: [
        { name: 'a', key: 'admin' },
        { name: 'b', key: 'admin' },
      ],
      keys: { admin: { rules: [{ to: ['*'] }] } },
      subnet: '10.144.0.0/29',
      ownerKey,
      createdAt,
      memberKeys: pair,
    })
    const all = [mesh.owner, ...mesh.nodes]
    await waitConverged(all, 2)
    const view = addressView
    await until(() => new Set(all.map(view)).size === 1, 5000, 'one view')
    assert.equal(mesh.owner.networkId, networkId)
    const [a, b] = mesh.nodes
    assert.notEqual(a.address, b.address)
    // the owner binds first come: whoever it bound first holds the contested address for good, the
    // other got the next free candidate (nobody can take a bound address by grinding a smaller id)
    const members = mesh.owner.membership.store.policy?.members ?? []
    const first = members.find((m) => m.peerId === a.peerId || m.peerId === b.peerId)
    const holder = first?.peerId === a.peerId ? a : b
    assert.equal(holder.address, uint32ToIp(wanted))
  })
})
