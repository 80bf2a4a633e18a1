import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { TUNNEL_PROTOCOL } from '../src/constants.ts'
import { buildMesh, ipv4Packet, type TestMesh, until, waitConverged } from './helpers.ts'

describe('bad input is refused, counted, and contained', () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({
      members: [
        { name: 'server', key: 'admin' },
        { name: 'client', key: 'admin' },
      ],
      keys: { admin: { rules: [{ to: ['*'] }] } },
      dataPlane: true,
    })
    await waitConverged([mesh.owner, ...mesh.nodes], 2)
  })
  after(async () => {
    await mesh?.stop()
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
