import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { createFrameBatch, decodeControl, encodeRecord, FrameDecoder } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import { recordsTopic, TUNNEL_PROTOCOL } from '../src/constants.ts'
import { createTransport, type MeshLibp2p } from '../src/transport.ts'
import { buildMesh, ipv4Packet, type TestMesh, until } from './helpers.ts'

async function readRefusal(stream: Stream): Promise<{ code: string; reason: string }> {
  const dec = new FrameDecoder()
  const batch = createFrameBatch(1)
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no refusal')), 5000)
    stream.addEventListener('message', (evt) => {
      dec.push(evt.data)
      if (dec.decode(batch) !== 0 && batch.controlOffset >= 0) {
        const m = decodeControl(
          batch.buf.subarray(batch.controlOffset, batch.controlOffset + batch.controlLength),
        )
        if (m.ok && m.value.t === 'refuse') {
          clearTimeout(t)
          resolve({ code: m.value.code, reason: m.value.reason })
        }
      }
    })
  })
}

describe('bad input is refused, counted, and contained', () => {
  let mesh: TestMesh
  let intruder: MeshLibp2p
  before(async () => {
    mesh = await buildMesh({
      members: [
        { name: 'server', key: 'admin' },
        { name: 'client', key: 'admin' },
      ],
      keys: { admin: { rules: [{ to: ['*'] }] } },
      dataPlane: true,
    })
    const all = [mesh.owner, ...mesh.nodes]
    await until(() => all.every((n) => n.status().peers.length === 2), 10_000, 'convergence')
  })
  after(async () => {
    await intruder?.stop()
    await mesh?.stop()
  })

  it("a non-member's gossip and tunnel streams are refused", async () => {
    const key = await generateKeyPair('Ed25519')
    intruder = await createTransport({
      privateKey: key,
      networkId: mesh.owner.networkId,
      listen: [],
      transport: 'memory',
    })
    await intruder.start()
    intruder.services.pubsub.subscribe(recordsTopic(mesh.owner.networkId))
    const ownerMa = multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`)
    await intruder.dial(ownerMa)
    const id = peerIdFromPrivateKey(key).toString()
    const record = await encodeRecord(
      {
        type: 'record',
        v: 1,
        networkId: mesh.owner.networkId,
        peerId: id,
        seq: Date.now(),
        ts: Date.now(),
        name: 'intruder',
        ip: '10.144.1.1',
        counter: 0,
        addrs: [],
        links: [],
        relays: [],
        claim: null,
        policyVersion: 1,
      },
      key,
    )
    // directly offered (as a validator would) and over gossip
    const r = await mesh.owner.topology.offer(record)
    assert.ok(typeof r === 'object' && /not a member/.test(r.rejected), JSON.stringify(r))
    await until(
      () => intruder.services.pubsub.getSubscribers(recordsTopic(mesh.owner.networkId)).length > 0,
      5000,
      'subscription',
    )
    await intruder.services.pubsub.publish(recordsTopic(mesh.owner.networkId), record).catch(() => {})
    await new Promise((res) => setTimeout(res, 300))
    assert.equal(mesh.owner.topology.get(id), undefined)
    for (const n of [mesh.owner, ...mesh.nodes]) assert.ok(!n.status().peers.some((p) => p.peerId === id))

    const stream = await intruder.dialProtocol(peerIdFromString(mesh.owner.peerId), TUNNEL_PROTOCOL)
    const refusal = await readRefusal(stream)
    assert.equal(refusal.code, 'NOT_MEMBER')
  })

  it("a member's spoofed-source packets are dropped and counted", async () => {
    const [server, client] = mesh.nodes
    const serverDev = mesh.devices.get(server)!
    const before = serverDev.written.length
    const dropsBefore = server.status().drops.SPOOFED_SOURCE ?? 0
    // claims to come from the owner's address
    mesh.devices.get(client)!.inject([ipv4Packet(mesh.owner.address!, server.address!, 17, 1000, 2000)])
    mesh.devices.get(client)!.inject([ipv4Packet(client.address!, server.address!, 17, 1000, 2000)])
    await serverDev.waitFor(before + 1)
    await until(() => (server.status().drops.SPOOFED_SOURCE ?? 0) > dropsBefore, 3000, 'spoof drop counted')
    assert.equal(serverDev.written.length, before + 1)
  })

  it('a malformed frame closes that stream only; the node keeps serving others', async () => {
    const [server, client] = mesh.nodes
    const serverDev = mesh.devices.get(server)!
    const stream = await client.libp2pNode.dialProtocol(peerIdFromString(server.peerId), TUNNEL_PROTOCOL)
    const closed = new Promise<void>((res) => stream.addEventListener('close', () => res()))
    stream.send(new Uint8Array([0x7f, 0, 0, 4, 1, 2, 3, 4]))
    await closed
    await until(() => (server.status().drops.BAD_FRAME ?? 0) > 0, 3000, 'bad frame counted')
    const n = serverDev.written.length
    mesh.devices.get(mesh.owner)!.inject([ipv4Packet(mesh.owner.address!, server.address!, 17, 5, 6)])
    await serverDev.waitFor(n + 1)
    mesh.devices.get(client)!.inject([ipv4Packet(client.address!, server.address!, 17, 7, 8)])
    await serverDev.waitFor(n + 2)
  })
})
