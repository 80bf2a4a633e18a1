import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { adapterOf } from '../src/reachability/libp2p-adapter.ts'
import { createTransport, type MeshLibp2p } from '../src/transport.ts'
import { buildMesh, type TestMesh, until } from './helpers.ts'

describe('member relays', () => {
  let mesh: TestMesh
  let intruder: MeshLibp2p
  before(async () => {
    mesh = await buildMesh({
      members: [{ name: 'm1', key: 'admin' }],
      keys: { admin: { rules: [{ to: ['*'] }] } },
      ownerRelay: true,
      transport: 'tcp',
    })
    await until(() => mesh.nodes[0].status().peers.length === 1, 10_000, 'convergence')
  })
  after(async () => {
    await intruder?.stop()
    await mesh?.stop()
  })

  it('a member holds a reservation on the member relay and announces it', async () => {
    const m1 = mesh.nodes[0]
    await until(() => m1.netcheck().relays.some((r) => r.reserved), 15_000, 'reservation')
    await until(() => (mesh.owner.topology.get(m1.peerId)?.record.relays.length ?? 0) > 0, 10_000, 'record')
    // the announced circuit runs through the member relay (the owner)
    const rec = mesh.owner.topology.get(m1.peerId)
    assert.ok(
      rec?.record.relays.some((r) => r.includes(`/p2p/${mesh.owner.peerId}/p2p-circuit`)),
      String(rec?.record.relays),
    )
  })

  it('a non-member gets neither a reservation nor a relayed connection', async () => {
    const key = await generateKeyPair('Ed25519')
    intruder = await createTransport({
      privateKey: key,
      networkId: mesh.owner.networkId,
      listen: [],
    })
    await intruder.start()
    await intruder.dial(multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`))
    // the hop protocol is behind the membership gate: a stranger's stream is never read
    await assert.rejects(adapterOf(intruder).reserveOn(mesh.owner.peerId), 'reservation refused')
    assert.ok(!intruder.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit')))
    const m1 = mesh.nodes[0]
    await assert.rejects(
      intruder.dial(multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}/p2p-circuit/p2p/${m1.peerId}`), {
        signal: AbortSignal.timeout(5000),
      }),
      'relayed connection refused',
    )
  })
})
