/**
 * The trust boundary, attacked in-process (issue 8): a stranger, a member of another key, a
 * revoked member, an expired one, a name or address thief, a second user of a one-use key. Every
 * test asserts the effect on the receiving side: what reached the device, the counters, the
 * connections, the names.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { decodeHelloAnswer, encodeFrame, encodeHelloOffer, FRAME_TYPE_IP, ipToUint32 } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import { candidateAddress } from '../src/addressing.ts'
import {
  HELLO_PROTOCOL,
  HELLO_TIMEOUT_MS,
  POLICY_TOPIC,
  RECORDS_TOPIC,
  TUNNEL_PROTOCOL,
} from '../src/constants.ts'
import { removeKey } from '../src/network.ts'
import type { MeshLibp2p } from '../src/transport.ts'
import {
  buildMesh,
  drain,
  ipv4Packet,
  joinNode,
  ownerKey,
  readRefusal,
  serverMesh,
  stranger,
  type TestMesh,
  until,
  waitConverged,
} from './helpers.ts'

describe('a stranger learns nothing', () => {
  let mesh: TestMesh
  const strangers: MeshLibp2p[] = []
  before(async () => {
    mesh = await serverMesh()
  })
  after(async () => {
    await Promise.allSettled(strangers.map((s) => s.stop()))
    await mesh?.stop()
  })

  it('protocol ids and topics name no network', () => {
    const id = mesh.owner.networkId
    for (const p of [...mesh.owner.libp2pNode.getProtocols(), RECORDS_TOPIC, POLICY_TOPIC]) {
      assert.ok(!p.includes(id), `${p} names the network`)
    }
  })

  it('every protocol but the hello is closed to it, gossip never reaches it, and it is hung up on', async () => {
    const s = await stranger()
    strangers.push(s)
    const owner = peerIdFromString(mesh.owner.peerId)
    const conn = await s.dial(multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`))
    const gossip: string[] = []
    s.services.pubsub.addEventListener('message', (evt) => gossip.push(evt.detail.topic))
    s.services.pubsub.subscribe(RECORDS_TOPIC)
    s.services.pubsub.subscribe(POLICY_TOPIC)
    const refusedBefore = mesh.owner.status().drops.NOT_MEMBER_STREAM ?? 0
    const protocols = mesh.owner.libp2pNode.getProtocols().filter((p) => p !== HELLO_PROTOCOL)
    assert.ok(protocols.length >= 5, protocols.join(' '))
    const results = await Promise.all(
      protocols.map(async (p) => {
        try {
          const stream = await s.dialProtocol(owner, p, { signal: AbortSignal.timeout(HELLO_TIMEOUT_MS * 2) })
          const got = drain(stream)
          stream.send(new Uint8Array([1, 2, 3, 4]))
          return { p, bytes: await got }
        } catch {
          return { p, bytes: 0 }
        }
      }),
    )
    for (const r of results) assert.equal(r.bytes, 0, `${r.p} answered a stranger`)
    await assert.rejects(s.services.identify.identify(conn), 'identify answered a stranger')
    // a new policy version and records go out meanwhile: none reaches the stranger
    await ownerKey(mesh, 'later')
    await mesh.owner.topology.publishRecord()
    await until(() => s.getConnections(owner).length === 0, HELLO_TIMEOUT_MS * 2, 'hang-up')
    assert.deepEqual(gossip, [])
    await until(
      () => (mesh.owner.status().drops.NOT_MEMBER_STREAM ?? 0) > refusedBefore,
      2000,
      'refusals counted',
    )
    // and it may not come straight back
    await assert.rejects(s.dial(multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`)))
  })

  it('a bogus claim is refused; an oversized hello is not read', async () => {
    const s = await stranger()
    strangers.push(s)
    const owner = peerIdFromString(mesh.owner.peerId)
    await s.dial(multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`))
    const stream = await s.dialProtocol(owner, HELLO_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(encodeHelloOffer({ kind: 'claim', claim: new Uint8Array(200).fill(7) }))
    const answer = decodeHelloAnswer((await lp.read()).subarray())
    assert.ok(answer.ok && !answer.value.admitted, JSON.stringify(answer))
    await until(() => s.getConnections(owner).length === 0, 3000, 'hang-up after refusal')

    const s2 = await stranger()
    strangers.push(s2)
    await s2.dial(multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`))
    const big = await s2.dialProtocol(owner, HELLO_PROTOCOL)
    const ended = drain(big)
    // a 4 MiB length prefix: refused on the prefix, the body is never buffered
    big.send(new Uint8Array([0x80, 0x80, 0x80, 0x02]))
    big.send(new Uint8Array(64 * 1024))
    assert.equal(await ended, 0)
  })
})

describe('members get exactly what their key allows', () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({
      members: [
        { name: 'server', key: 'admin' },
        { name: 'guest', key: 'guests' },
        { name: 'other', key: 'others' },
      ],
      keys: {
        admin: { rules: [{ to: ['*'] }] },
        guests: { rules: [{ to: ['node:server'], ports: ['22/tcp'] }] },
        others: { rules: [{ to: ['node:owner'], ports: ['443/tcp'] }] },
      },
      dataPlane: true,
    })
    await waitConverged([mesh.owner, ...mesh.nodes], 3)
  })
  after(async () => mesh?.stop())

  it("the receiver filters a sender that skips its own filter: nothing outside the key's ACL reaches the device", async () => {
    const [server, guest] = mesh.nodes
    const dev = mesh.devices.get(server)!
    const before = dev.written.length
    const aclBefore = server.status().drops.ACL ?? 0
    // raw frames on the tunnel protocol: the guest's own egress filter never sees them
    const stream = await guest.libp2pNode.dialProtocol(peerIdFromString(server.peerId), TUNNEL_PROTOCOL)
    stream.send(encodeFrame(FRAME_TYPE_IP, ipv4Packet(guest.address!, server.address!, 6, 40000, 6379)))
    stream.send(encodeFrame(FRAME_TYPE_IP, ipv4Packet(guest.address!, server.address!, 17, 5353, 53)))
    stream.send(encodeFrame(FRAME_TYPE_IP, ipv4Packet(guest.address!, server.address!, 6, 40001, 22)))
    await dev.waitFor(before + 1)
    await until(() => (server.status().drops.ACL ?? 0) >= aclBefore + 2, 3000, 'ACL drops counted')
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(dev.written.length, before + 1)
    const arrived = dev.written[dev.written.length - 1]
    assert.equal((arrived[22] << 8) | arrived[23], 22, 'only the 22/tcp packet arrived')
  })

  it('two members whose keys may not talk get their tunnel stream refused with the reason', async () => {
    const [, guest, other] = mesh.nodes
    const stream = await other.libp2pNode.dialProtocol(peerIdFromString(guest.peerId), TUNNEL_PROTOCOL)
    const r = await readRefusal(stream)
    assert.equal(r.code, 'ACL')
    assert.match(r.reason, /others may reach nothing/)
  })

  it('a later member cannot take a bound name or address', async () => {
    const [server] = mesh.nodes
    const serverIp = server.address!
    const subnet = { base: ipToUint32('10.144.0.0'), prefix: 16 }
    // a deny-all member grinds an identity whose first address is the server's and whose peer id
    // sorts first (the old rule gave both the name and the address to the smaller peer id)
    let key: PrivateKey | null = null
    for (let i = 0; i < 200_000 && key == null; i++) {
      const k = await generateKeyPair('Ed25519')
      const id = peerIdFromPrivateKey(k).toString()
      if (
        id < server.peerId &&
        candidateAddress(mesh.owner.networkId, id, 0, subnet) === ipToUint32(serverIp)
      )
        key = k
      if (i === 4000 && key == null) break // a /16 takes too long here: the name test still runs
    }
    const join = await ownerKey(mesh, 'nobody', { name: 'nobody', acl: { rules: [] } })
    const thief = await joinNode(mesh, join, 'server', { key: key ?? undefined })
    await waitConverged([mesh.owner, ...mesh.nodes], mesh.nodes.length)
    for (const n of [mesh.owner, ...mesh.nodes]) {
      assert.equal(n.nameToIp('server'), serverIp, `${n.name} resolves server elsewhere`)
    }
    assert.equal(server.address, serverIp)
    assert.equal(server.name, 'server')
    assert.equal(thief.name, 'server-2')
    assert.notEqual(thief.address, serverIp)
  })
})

describe('key lifecycle', () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({ members: [], keys: {}, dataPlane: false })
  })
  after(async () => mesh?.stop())

  it('a revoked member is cut off and refused within 2 s', async () => {
    const join = await ownerKey(mesh, 'temp', { name: 'temp', acl: { rules: [{ to: ['*'] }] } })
    const m = await joinNode(mesh, join, 'temp')
    const owner = peerIdFromString(mesh.owner.peerId)
    await until(() => mesh.owner.membership.gate.isAdmitted(m.peerId), 5000, 'admitted')
    const t0 = Date.now()
    await mesh.owner.amendPolicy(removeKey('temp'))
    await until(
      () =>
        !mesh.owner.membership.gate.isAdmitted(m.peerId) && m.libp2pNode.getConnections(owner).length === 0,
      2000,
      'revoked member cut off',
    )
    const ms = Date.now() - t0
    assert.ok(ms < 2000, `took ${ms} ms`)
    await assert.rejects(m.libp2pNode.dial(multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`)))
  })

  it('memberships end within 1 s of --member-expires', async () => {
    const ends = Date.now() + 3000
    const join = await ownerKey(mesh, 'brief', {
      name: 'brief',
      acl: { rules: [{ to: ['*'] }] },
      memberExpiresAt: ends,
    })
    const m = await joinNode(mesh, join, 'brief')
    await until(() => mesh.owner.status().peers.some((p) => p.peerId === m.peerId), 2500, 'joined')
    await until(() => !mesh.owner.status().peers.some((p) => p.peerId === m.peerId), 5000, 'expired')
    const late = Date.now() - ends
    assert.ok(late < 1000, `cut ${late} ms after expiry`)
    assert.ok(!mesh.owner.membership.gate.isAdmitted(m.peerId))
  })

  it('a one-use key admits one identity, ever, and needs the owner to admit it', async () => {
    const join = await ownerKey(mesh, 'once', { name: 'once', acl: { rules: [] }, reusable: false })
    const first = await joinNode(mesh, join, 'first')
    await until(() => mesh.owner.membership.store.key('once')?.claimedBy === first.peerId, 5000, 'bound')
    const second = await joinNode(mesh, join, 'second')
    await until(() => /already used/.test(second.status().self.reason ?? ''), 5000, 'the refusal reason')
    assert.ok(!mesh.owner.status().peers.some((p) => p.peerId === second.peerId))
  })

  it('with the owner offline, a one-use key admits nobody and says why', async () => {
    const join = await ownerKey(mesh, 'once-offline', {
      name: 'once-offline',
      acl: { rules: [] },
      reusable: false,
    })
    const relayJoin = await ownerKey(mesh, 'peers', { name: 'peers', acl: { rules: [{ to: ['*'] }] } })
    const member = await joinNode(mesh, relayJoin, 'member')
    await until(() => member.status().self.bound, 5000, 'member bound')
    await mesh.owner.stop()
    const addr = member.libp2pNode.getMultiaddrs()[0].toString()
    const newcomer = await joinNode(mesh, join, 'newcomer', { bootstrap: addr })
    await until(() => /owner must be online/.test(newcomer.status().self.reason ?? ''), 8000, 'clear refusal')
    assert.ok(!member.membership.gate.isAdmitted(newcomer.peerId))
  })
})
