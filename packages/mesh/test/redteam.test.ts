/**
 * (Over 500 lines: one attack per test, written from the attacker's side; they share one mesh and its helpers.)
 *
 * Red team of the trust boundary (issue 8), in-process over the memory transport. Each test is
 * one attack, written from the attacker's side and judged on the receiving side (what it read,
 * buffered, admitted, bound or forwarded). Attacks that still succeed are kept, marked
 * `todo: 'finding: …'`, so the suite stays green while the finding is open.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, PrivateKey, Stream } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import {
  decodeHelloAnswer,
  encodeHelloAnswer,
  encodeHelloOffer,
  encodeRecord,
  fromBase64,
  type NodeRecord,
  parseJoinString,
  toBase64,
} from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import {
  HELLO_PROTOCOL,
  HELLO_TIMEOUT_MS,
  MAX_UNBOUND_PER_KEY,
  POLICY_TOPIC,
  RECORDS_TOPIC,
  SYNC_PROTOCOL,
} from '../src/constants.ts'
import { claimMembership, removeKey, revokeNodeChange } from '../src/network.ts'
import { MeshNode } from '../src/node.ts'
import { adapterOf } from '../src/reachability/libp2p-adapter.ts'
import { syncClient } from '../src/topology/sync.ts'
import type { MeshLibp2p } from '../src/transport.ts'
import {
  buildMesh,
  drain,
  joinNode,
  memAddr,
  ownerKey,
  quiet,
  serverMesh,
  stranger,
  type TestMesh,
  until,
  waitConverged,
} from './helpers.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function addrOf(n: MeshNode | MeshLibp2p): string {
  const lp = n instanceof MeshNode ? n.libp2pNode : n
  return lp.getMultiaddrs()[0].toString()
}

/** Bytes the receiver holds, unread, on the streams of its connections from `peer`. */
function buffered(receiver: MeshNode, peer: string): number {
  let n = 0
  for (const c of receiver.libp2pNode.getConnections(peerIdFromString(peer)))
    for (const s of c.streams) n += s.readBufferLength
  return n
}

/** Offers our hello on `conn` and returns the answer. */
async function hello(
  conn: Connection,
  claim: Uint8Array | null,
): Promise<ReturnType<typeof decodeHelloAnswer>> {
  const stream = await conn.newStream(HELLO_PROTOCOL, { runOnLimitedConnection: true })
  const lp = lpStream(stream)
  await lp.write(encodeHelloOffer(claim == null ? { kind: 'owner' } : { kind: 'claim', claim }))
  return decodeHelloAnswer((await lp.read()).subarray())
}

/** A signed record for identity `key` holding `claim` (what any member's node publishes). */
async function forgeRecord(
  key: PrivateKey,
  networkId: string,
  claim: string,
  over: Partial<NodeRecord> = {},
): Promise<Uint8Array> {
  const now = Date.now()
  return encodeRecord(
    {
      type: 'record',
      v: 1,
      networkId,
      peerId: peerIdFromPrivateKey(key).toString(),
      seq: now,
      ts: now,
      claim,
      policyVersion: 1,
      name: 'sybil',
      ip: '10.0.0.1',
      counter: 0,
      addrs: [],
      links: [],
      relays: [],
      relay: false,
      observed: [],
      ...over,
    } as NodeRecord,
    key,
  )
}

/** `n` fresh identities with valid claims of the key in `joinString` (a join-string holder's power). */
async function sybils(joinString: string, n: number): Promise<Array<{ key: PrivateKey; claim: string }>> {
  const join = parseJoinString(joinString)
  if (!join.ok) throw new Error(join.reason)
  const out: Array<{ key: PrivateKey; claim: string }> = []
  for (let i = 0; i < n; i++) {
    const key = await generateKeyPair('Ed25519')
    out.push({ key, claim: await claimMembership(join.value, key) })
  }
  return out
}

/** Hands records to `target` over sync from an admitted member (one per exchange, as the protocol allows). */
async function injectBySync(from: MeshNode, target: MeshNode, records: Uint8Array[]): Promise<void> {
  for (const record of records) {
    const stream = await from.libp2pNode.dialProtocol(peerIdFromString(target.peerId), SYNC_PROTOCOL)
    await syncClient(stream, { record, have: {} })
  }
}

describe('strangers against the hello gate', () => {
  let mesh: TestMesh
  const strangers: MeshLibp2p[] = []
  before(async () => {
    mesh = await serverMesh()
  })
  after(async () => {
    await Promise.allSettled(strangers.map((s) => s.stop()))
    await mesh?.stop()
  })
  const target = () => `${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`

  it('streams racing the hello: a sync request sent before a bogus hello is never read nor answered', async () => {
    const s = await stranger()
    strangers.push(s)
    const conn = await s.dial(multiaddr(target()))
    const sybil = await generateKeyPair('Ed25519')
    const record = await forgeRecord(sybil, mesh.owner.networkId, mesh.owner.membership.claim ?? 'x')
    const sizeBefore = mesh.owner.topology.records.size
    // the sync stream first, its request written at once, then the hello
    const sync = await conn.newStream(SYNC_PROTOCOL)
    const answered = drain(sync)
    const lp = lpStream(sync)
    await lp.write(new TextEncoder().encode(JSON.stringify({ v: 2, record: null, have: {} })))
    const gossip = await conn.newStream('/meshsub/1.1.0').catch(() => null)
    const gossipAnswered = gossip == null ? Promise.resolve(0) : drain(gossip)
    const answer = await hello(conn, new Uint8Array(100).fill(3))
    assert.ok(answer.ok && !answer.value.admitted, 'a bogus claim was admitted')
    assert.equal(await answered, 0, 'the sync request was answered')
    assert.equal(await gossipAnswered, 0, 'gossipsub answered')
    assert.equal(mesh.owner.topology.records.size, sizeBefore)
    void record
  })

  it("a stolen claim (a member's, presented by another identity) is refused", async () => {
    const s = await stranger()
    strangers.push(s)
    const conn = await s.dial(multiaddr(target()))
    const stolen = mesh.nodes[0].membership.claim
    assert.ok(stolen)
    const answer = await hello(conn, fromBase64(stolen))
    assert.ok(answer.ok && !answer.value.admitted)
    assert.match(answer.ok && !answer.value.admitted ? answer.value.reason : '', /another peer/)
    assert.ok(!mesh.owner.membership.gate.isAdmitted(s.peerId.toString()))
  })

  it('a stranger posing as the owner (owner proof from another peer id) is refused', async () => {
    const s = await stranger()
    strangers.push(s)
    const conn = await s.dial(multiaddr(`${addrOf(mesh.nodes[0])}`))
    const answer = await hello(conn, null)
    assert.ok(answer.ok && !answer.value.admitted)
    assert.ok(!mesh.nodes[0].membership.gate.isAdmitted(s.peerId.toString()))
  })

  it('gossipsub tells a stranger nothing, not even our subscriptions', async () => {
    const s = await stranger()
    strangers.push(s)
    s.services.pubsub.subscribe(RECORDS_TOPIC)
    s.services.pubsub.subscribe(POLICY_TOPIC)
    const conn = await s.dial(multiaddr(target()))
    // the stranger opens gossipsub itself and announces its subscriptions
    const rpc = await conn.newStream('/meshsub/1.2.0').catch(() => null)
    const got = rpc == null ? Promise.resolve(0) : drain(rpc)
    await sleep(1500)
    assert.ok(
      !s.services.pubsub.getSubscribers(RECORDS_TOPIC).some((p) => p.toString() === mesh.owner.peerId),
      'the owner told a stranger what it subscribes to',
    )
    assert.ok(!mesh.owner.libp2pNode.services.pubsub.getPeers().some((p) => p.equals(s.peerId)))
    rpc?.abort(new Error('done'))
    assert.equal(await got, 0)
  })

  it('waiting streams: unproven peers cannot make the node buffer more than a few hellos worth of bytes', {}, async () => {
    const ids = 4
    const conns: Connection[] = []
    for (let i = 0; i < ids; i++) {
      const s = await stranger()
      strangers.push(s)
      conns.push(await s.dial(multiaddr(target())))
    }
    const protocols = mesh.owner.libp2pNode.getProtocols().filter((p) => p !== HELLO_PROTOCOL)
    const chunk = new Uint8Array(64 * 1024).fill(0xab)
    const heap0 = process.memoryUsage().arrayBuffers
    await Promise.all(
      conns.map(async (conn) => {
        const streams: Stream[] = []
        for (let i = 0; i < 64 && streams.length < 40; i++) {
          const st = await conn
            .newStream(protocols[i % protocols.length], { runOnLimitedConnection: true })
            .catch(() => null)
          if (st != null) streams.push(st)
        }
        // 4 MiB per stream, as fast as the receiver's window lets us, never a hello
        await Promise.all(
          streams.map(async (st) => {
            try {
              for (let sent = 0; sent < 4 * 1024 * 1024; sent += chunk.length) {
                if (!st.send(chunk)) await st.onDrain({ signal: AbortSignal.timeout(1500) })
              }
            } catch {}
          }),
        )
      }),
    )
    const held = strangers.slice(-ids).map((s) => buffered(mesh.owner, s.peerId.toString()))
    const total = held.reduce((a, b) => a + b, 0)
    const heap1 = process.memoryUsage().arrayBuffers
    console.log(
      `# ${ids} unproven peers: the owner holds ${(total / 2 ** 20).toFixed(1)} MiB unread ` +
        `(${held.map((h) => (h / 2 ** 20).toFixed(1)).join(' + ')} MiB; arrayBuffers +${((heap1 - heap0) / 2 ** 20).toFixed(1)} MiB in this process)`,
    )
    for (const h of held)
      assert.ok(h <= 1024 * 1024, `the owner buffers ${h} bytes for a peer that proved nothing`)
  })

  it('many connections from one stranger identity: all cut at the hello timeout, a member still connects', async () => {
    const s = await stranger()
    strangers.push(s)
    const conns = await Promise.all(
      Array.from({ length: 40 }, () =>
        s.dial(multiaddr(target()), { force: true, signal: AbortSignal.timeout(3000) }).catch(() => null),
      ),
    )
    const accepted = mesh.owner.libp2pNode.getConnections(s.peerId).length
    console.log(
      `# one stranger identity: ${conns.filter((c) => c != null).length}/40 connections dialled, ${accepted} held by the owner`,
    )
    // whatever it holds, all of it is gone after the hello timeout, and it may not come back
    await until(
      () => mesh.owner.libp2pNode.getConnections(s.peerId).length === 0,
      HELLO_TIMEOUT_MS * 2,
      'hang-up',
    )
    await assert.rejects(s.dial(multiaddr(target()), { signal: AbortSignal.timeout(2000) }))
    // meanwhile a member can still connect
    const m = mesh.nodes[0]
    await m.libp2pNode.dial(multiaddr(target()), { force: true, signal: AbortSignal.timeout(3000) })
  })
})

describe('revoked, expired and misbound members', () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await serverMesh()
  })
  after(async () => mesh?.stop())

  it('a member of a revoked key, dialling a member that never saw it, is refused and read nothing', async () => {
    const join = await ownerKey(mesh, 'rk')
    const x = await joinNode(mesh, join, 'rk')
    await until(() => mesh.owner.membership.gate.isAdmitted(x.peerId), 5000, 'admitted')
    await mesh.owner.amendPolicy(removeKey('rk'))
    const server = mesh.nodes[0]
    await until(() => server.membership.store.key('rk') == null, 3000, 'revocation reached the server')
    // a raw libp2p node with the revoked identity and its old claim: a fresh connection
    const xKey = await generateKeyPair('Ed25519')
    const parsed = parseJoinString(join)
    assert.ok(parsed.ok)
    const claim = await claimMembership(parsed.value, xKey)
    const raw = await stranger(xKey)
    try {
      const conn = await raw.dial(multiaddr(addrOf(server)))
      const sync = await conn.newStream(SYNC_PROTOCOL)
      const got = drain(sync)
      sync.send(new Uint8Array([2, 0x7b, 0x7d]))
      const answer = await hello(conn, fromBase64(claim))
      assert.ok(answer.ok && !answer.value.admitted, 'admitted')
      assert.match(answer.ok && !answer.value.admitted ? answer.value.reason : '', /revoked/)
      assert.equal(await got, 0)
      assert.ok(!server.membership.gate.isAdmitted(raw.peerId.toString()))
    } finally {
      await raw.stop()
    }
  })

  // A node revoke alone bans one identity: the holder of a reusable join string can mint another
  // (as with Tailscale's reusable auth keys; `node revoke` warns). `node revoke --with-key` revokes
  // the node and its key in one policy version: this is that change, and the attack after it.
  it('a node revoked with its key cannot come back under a fresh identity with the same (reusable) join string', async () => {
    const join = await ownerKey(mesh, 'laptops')
    const x = await joinNode(mesh, join, 'stolen-laptop')
    await until(() => mesh.owner.membership.store.binding(x.peerId) != null, 5000, 'bound')
    await mesh.owner.amendPolicy((cur) => removeKey('laptops')(revokeNodeChange(x.peerId)(cur)))
    await until(() => !mesh.owner.membership.gate.isAdmitted(x.peerId), 2000, 'cut off')
    await x.stop()
    // the same person, same join string, new node key
    const again = await joinNode(mesh, join, 'stolen-laptop')
    await sleep(2000)
    assert.ok(!mesh.owner.membership.gate.isAdmitted(again.peerId), 'the revoked holder is a member again')
    assert.equal(mesh.owner.membership.store.binding(again.peerId), undefined)
  })

  it('a bound member presenting a claim of another key (one it also holds) is refused', async () => {
    const joinA = await ownerKey(mesh, 'ka', { acl: { rules: [] } })
    const joinB = await ownerKey(mesh, 'kb', { acl: { rules: [{ to: ['*'] }] } })
    const key = await generateKeyPair('Ed25519')
    const a = await joinNode(mesh, joinA, 'bound-to-a', { key })
    await until(() => mesh.owner.membership.store.binding(a.peerId)?.key === 'ka', 5000, 'bound to ka')
    const pb = parseJoinString(joinB)
    assert.ok(pb.ok)
    const claimB = await claimMembership(pb.value, key)
    // the store decides the same for hello, records and sync
    const m = await mesh.owner.membership.store.membership(a.peerId, claimB)
    assert.ok(!m.ok)
    assert.match(m.ok ? '' : m.reason, /bound to key ka/)
    // and a record carrying the other claim, handed over sync, is refused
    const rec = await forgeRecord(key, mesh.owner.networkId, claimB, { name: 'bound-to-a' })
    await injectBySync(mesh.nodes[0], mesh.owner, [rec])
    assert.equal(mesh.owner.topology.get(a.peerId)?.membership.keyName, 'ka')
  })

  it("a record claiming another key's tags or a bound name changes neither tags nor names", async () => {
    const join = await ownerKey(mesh, 'plain', { acl: { rules: [] }, tags: ['plain'] })
    const key = await generateKeyPair('Ed25519')
    const g = await joinNode(mesh, join, 'plain')
    await until(() => mesh.owner.topology.get(g.peerId) != null, 5000, 'known')
    const pj = parseJoinString(join)
    assert.ok(pj.ok)
    const claim = await claimMembership(pj.value, key)
    const forged = await forgeRecord(key, mesh.owner.networkId, claim, {
      name: 'server',
      ip: mesh.nodes[0].address ?? '10.144.0.1',
      tags: ['admin', 'owner'],
    } as Partial<NodeRecord>)
    await injectBySync(g, mesh.owner, [forged])
    const id = peerIdFromPrivateKey(key).toString()
    await until(() => mesh.owner.topology.get(id) != null, 3000, 'the forged record stored')
    assert.deepEqual(mesh.owner.topology.get(id)?.membership.tags, ['plain'])
    await sleep(300)
    assert.equal(mesh.owner.nameToIp('server'), mesh.nodes[0].address)
    const entry = mesh.owner.status().peers.find((p) => p.peerId === id)
    assert.notEqual(entry?.ip, mesh.nodes[0].address)
  })

  it('join-by expiry: a bound member stays, a new identity with the same string is refused', async () => {
    const join = await ownerKey(mesh, 'window', { expiresAt: Date.now() + 2500 })
    const early = await joinNode(mesh, join, 'early')
    await until(() => mesh.owner.membership.store.binding(early.peerId) != null, 2000, 'bound in time')
    await sleep(2600 - 0)
    const late = await joinNode(mesh, join, 'late')
    await until(() => /stopped admitting/.test(late.status().self.reason ?? ''), 5000, 'refusal reason')
    assert.ok(mesh.owner.membership.gate.isAdmitted(early.peerId), 'the bound member was cut')
    assert.ok(!mesh.owner.membership.gate.isAdmitted(late.peerId))
  })

  it('moving --member-expires earlier by a new policy cuts the member within 1 s of the new time', async () => {
    const join = await ownerKey(mesh, 'shrink', { memberExpiresAt: Date.now() + 3_600_000 })
    const m = await joinNode(mesh, join, 'shrinking')
    await until(() => mesh.owner.membership.gate.isAdmitted(m.peerId), 5000, 'admitted')
    const ends = Date.now() + 1500
    await mesh.owner.amendPolicy((p) => ({
      ...p,
      keys: p.keys.map((k) => (k.name === 'shrink' ? { ...k, memberExpiresAt: ends } : k)),
    }))
    await until(() => !mesh.owner.membership.gate.isAdmitted(m.peerId), 4000, 'cut at the new time')
    const late = Date.now() - ends
    assert.ok(late >= 0 && late < 1000, `cut ${late} ms after the new expiry`)
    await until(
      () => !mesh.nodes[0].status().peers.some((p) => p.peerId === m.peerId),
      2000,
      'gone elsewhere',
    )
  })

  it('two users of a one-use key at the same moment: exactly one identity is ever a member', async () => {
    const join = await ownerKey(mesh, 'once-race', { reusable: false })
    const [a, b] = await Promise.all([joinNode(mesh, join, 'race-a'), joinNode(mesh, join, 'race-b')])
    await until(() => mesh.owner.membership.store.key('once-race')?.claimedBy != null, 5000, 'claimed')
    const winner = mesh.owner.membership.store.key('once-race')?.claimedBy
    const loser = winner === a.peerId ? b : a
    await until(
      () =>
        !mesh.owner.membership.gate.isAdmitted(loser.peerId) && mesh.owner.topology.get(loser.peerId) == null,
      3000,
      'the second user expelled',
    )
    await sleep(500)
    for (const n of [mesh.owner, mesh.nodes[0]]) {
      assert.ok(!n.status().peers.some((p) => p.peerId === loser.peerId), `${n.name} still lists the loser`)
    }
  })

  it("replaying an old record (lower seq) or a revoked member's record changes nothing", async () => {
    const server = mesh.nodes[0]
    const known = mesh.owner.topology.get(server.peerId)
    assert.ok(known)
    const oldBytes = known.bytes
    await server.topology.publishRecord()
    await until(
      () => (mesh.owner.topology.get(server.peerId)?.record.seq ?? 0) > known.record.seq,
      3000,
      'newer',
    )
    const seq = mesh.owner.topology.get(server.peerId)?.record.seq
    assert.equal(await mesh.owner.topology.records.offer(oldBytes), 'stale')
    assert.equal(mesh.owner.topology.get(server.peerId)?.record.seq, seq)
    // a record of a revoked key's member, handed over by another member after the revocation
    const join = await ownerKey(mesh, 'gone')
    const gKey = await generateKeyPair('Ed25519')
    const g = await joinNode(mesh, join, 'gone', { key: gKey })
    await until(() => server.topology.get(g.peerId) != null, 5000, 'known')
    const claim = g.membership.claim
    assert.ok(claim)
    await g.stop()
    await mesh.owner.amendPolicy(removeKey('gone'))
    await until(() => server.topology.get(g.peerId) == null, 3000, 'dropped at the server')
    // the revoked node signs a fresh record (new seq) with its old claim, handed over by a member
    const fresh = await forgeRecord(gKey, mesh.owner.networkId, claim, { name: 'gone' })
    await injectBySync(mesh.owner, server, [fresh])
    assert.equal(server.topology.get(g.peerId), undefined)
    const r = await server.topology.records.offer(await forgeRecord(gKey, mesh.owner.networkId, claim))
    assert.ok(typeof r === 'object' && /revoked/.test(r.rejected), JSON.stringify(r))
  })
})

describe('a newcomer (no policy yet) and its bootstrap peers', () => {
  let mesh: TestMesh
  const extra: Array<{ stop(): unknown }> = []
  before(async () => {
    mesh = await buildMesh({ members: [], keys: { guests: { rules: [{ to: ['*'] }] } } })
  })
  after(async () => {
    await Promise.allSettled(extra.map(async (n) => n.stop()))
    await mesh?.stop()
  })

  it('a revoked member serving an old owner-signed policy is not admitted by a newcomer', {
    todo: 'finding (open, documented): a newcomer accepts any owner-signed policy not older than its join string (minPolicyVersion) from a pending bootstrap peer; a revoked member replaying a policy from between the key’s creation and its revocation is admitted — only freshness from the owner closes it',
  }, async () => {
    const joinTemp = await ownerKey(mesh, 'temp')
    const xKey = await generateKeyPair('Ed25519')
    const x = await joinNode(mesh, joinTemp, 'x', { key: xKey })
    await until(() => mesh.owner.membership.store.binding(x.peerId) != null, 5000, 'x bound')
    const old = mesh.owner.membership.store.envelope
    assert.ok(old)
    await mesh.owner.amendPolicy(removeKey('temp'))
    await until(() => !mesh.owner.membership.gate.isAdmitted(x.peerId), 2000, 'x cut off')
    await x.stop()
    // x restarts from its old policy.bin, out of the owner's reach
    const parsed = parseJoinString(joinTemp)
    assert.ok(parsed.ok)
    const replayer = new MeshNode({
      privateKey: xKey,
      networkId: parsed.value.networkId,
      owner: parsed.value.ownerPeerId,
      name: 'x',
      claim: await claimMembership(parsed.value, xKey),
      policy: old,
      bootstrap: [],
      listen: [memAddr()],
      underlay: memory(),
      log: quiet,
    })
    await replayer.start()
    extra.push(replayer)
    // a newcomer whose join string lists x as a bootstrap peer (made while x was a member)
    const n = await joinNode(mesh, mesh.joins.guests, 'newcomer', {
      bootstrap: [`${addrOf(replayer)}`],
    })
    await sleep(3000)
    console.log(
      `# newcomer holds policy v${n.membership.store.version} (owner: v${mesh.owner.membership.store.version}); admits x: ${n.membership.gate.isAdmitted(replayer.peerId)}`,
    )
    assert.ok(!n.membership.gate.isAdmitted(replayer.peerId), 'the newcomer admitted the revoked member')
    assert.ok(
      n.membership.store.version >= mesh.owner.membership.store.version - 1 ||
        n.membership.store.policy == null,
      'the newcomer took a policy older than its own key',
    )
  })

  it('a bootstrap peer that is no member is hung up on once the policy arrives, and gets no gossip', {}, async () => {
    const p = await stranger()
    extra.push(p)
    const junk = new Uint8Array(120).fill(9)
    // answers every hello "admitted", with a proof nobody can check before holding a policy
    await p.handle(
      HELLO_PROTOCOL,
      async (stream) => {
        const lp = lpStream(stream)
        await lp.read()
        await lp.write(encodeHelloAnswer({ admitted: true, proof: { kind: 'claim', claim: junk } }))
        await stream.close().catch(() => {})
      },
      { runOnLimitedConnection: true },
    )
    const gossip: string[] = []
    p.services.pubsub.addEventListener('message', (evt) => gossip.push(evt.detail.topic))
    p.services.pubsub.subscribe(RECORDS_TOPIC)
    p.services.pubsub.subscribe(POLICY_TOPIC)
    const n = await joinNode(mesh, mesh.joins.guests, 'newcomer-2', {
      bootstrap: [addrOf(p), `${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`],
    })
    await until(() => n.membership.store.policy != null && n.address != null, 8000, 'the real policy')
    await n.topology.publishRecord()
    await sleep(HELLO_TIMEOUT_MS)
    console.log(
      `# non-member bootstrap peer: ${p.getConnections(peerIdFromString(n.peerId)).length} connection(s) kept, ${gossip.length} gossip message(s) received, ` +
        `sees the newcomer subscribed: ${p.services.pubsub.getSubscribers(RECORDS_TOPIC).some((x) => x.toString() === n.peerId)}`,
    )
    assert.deepEqual(gossip, [], 'gossip reached a non-member')
    assert.equal(p.getConnections(peerIdFromString(n.peerId)).length, 0, 'the non-member is still connected')
  })
})

/**
 * Injects records of `ids` at `target` through `from`, 3 sync exchanges at a time (the server takes
 * 4 sync streams per connection; our own anti-entropy may hold the fourth). A refused stream is
 * retried.
 */
async function injectSybils(
  from: MeshNode,
  target: MeshNode,
  ids: Array<{ key: PrivateKey; claim: string }>,
): Promise<number> {
  let accepted = 0
  let next = 0
  const exchange = async (record: Uint8Array): Promise<void> => {
    // the digest of what the target holds keeps its answers small
    const have = Object.fromEntries(target.topology.all().map((n) => [n.record.peerId, n.record.seq]))
    const stream = await from.libp2pNode.dialProtocol(peerIdFromString(target.peerId), SYNC_PROTOCOL)
    await syncClient(stream, { record, have })
  }
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]
      const record = await forgeRecord(id.key, target.networkId, id.claim)
      for (let attempt = 0; attempt < 3; attempt++) {
        const ok = await exchange(record).then(
          () => true,
          () => false,
        )
        if (ok) break
        await sleep(20)
      }
      if (target.topology.get(peerIdFromPrivateKey(id.key).toString()) != null) accepted++
    }
  }
  await Promise.all([worker(), worker(), worker()])
  return accepted
}

/** A full collection, when the runtime lets us ask for one (heap numbers are noise otherwise). */
function gc(): void {
  v8.setFlagsFromString('--expose-gc')
  ;(vm.runInNewContext('gc') as () => void)()
}

describe('one reusable join string against the network size', () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({
      members: [{ name: 'server', key: 'admin' }],
      keys: { admin: { rules: [{ to: ['*'] }] }, guests: { rules: [] } },
      subnet: '10.77.0.0/26',
    })
    await waitConverged([mesh.owner, ...mesh.nodes], 1)
  })
  after(async () => mesh?.stop())

  it('a guest cannot fill the subnet with sybil identities and lock out the next real member', {}, async () => {
    const attacker = await joinNode(mesh, mesh.joins.guests, 'guest')
    await until(() => mesh.owner.membership.gate.isAdmitted(attacker.peerId), 5000, 'admitted')
    const ids = await sybils(mesh.joins.guests, 70)
    const t0 = Date.now()
    for (let i = 0; i < ids.length; i += MAX_UNBOUND_PER_KEY - 2) {
      await injectSybils(attacker, mesh.owner, ids.slice(i, i + MAX_UNBOUND_PER_KEY - 2))
      const want = Math.min(62, mesh.owner.membership.store.policy!.members.length)
      await until(
        () =>
          mesh.owner.topology
            .all()
            .every((n) => n.membership.binding != null || n.record.peerId === attacker.peerId),
        3000,
        'bound',
      ).catch(() => {})
      void want
    }
    const bound = mesh.owner.membership.store.policy!.members
    console.log(
      `# /26: ${bound.filter((m) => m.key === 'guests').length} guest identities bound of ${bound.length} (${Date.now() - t0} ms)`,
    )
    const real = await joinNode(mesh, mesh.joins.admin, 'real-server')
    await sleep(2000)
    assert.ok(
      mesh.owner.membership.store.binding(real.peerId) != null,
      'the next real member could not be bound: the subnet is full of one guest',
    )
  })
})

/** The attack size; lower it with MESHLAN_REDTEAM_SYBILS for a quick run. */
const SYBILS = Number(process.env.MESHLAN_REDTEAM_SYBILS ?? 3000)

describe(`${SYBILS} injected identities (issue 8 §5)`, () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({
      members: [{ name: 'server', key: 'admin' }],
      keys: {
        admin: { rules: [{ to: ['*'] }] },
        guests: { rules: [{ to: ['tag:admin'], ports: ['22/tcp'] }] },
      },
    })
    await waitConverged([mesh.owner, ...mesh.nodes], 1)
  })
  after(async () => mesh?.stop())

  it('with the owner away, a member keeps at most MAX_UNBOUND_PER_KEY of them; recompute stays cheap', async () => {
    const server = mesh.nodes[0]
    const attacker = await joinNode(mesh, mesh.joins.guests, 'guest')
    await waitConverged([mesh.owner, ...mesh.nodes], 2)
    await mesh.owner.stop()
    const ids = await sybils(mesh.joins.guests, SYBILS)
    gc()
    const heap0 = process.memoryUsage().heapUsed
    const t0 = Date.now()
    const accepted = await injectSybils(attacker, server, ids)
    const injectMs = Date.now() - t0
    const t1 = performance.now()
    await server.recompute()
    const recomputeMs = performance.now() - t1
    gc()
    const heap1 = process.memoryUsage().heapUsed
    console.log(
      `# ${SYBILS} sybils at a member: ${accepted} accepted, store ${server.topology.records.size}, ` +
        `injection ${injectMs} ms (${(injectMs / SYBILS).toFixed(1)} ms of the member's time each), recompute ${recomputeMs.toFixed(1)} ms, heap ${((heap1 - heap0) / 2 ** 20).toFixed(1)} MiB`,
    )
    const guests = server.topology.all().filter((n) => n.membership.keyName === 'guests').length
    assert.ok(guests <= MAX_UNBOUND_PER_KEY + 1, `${guests} guest records held`)
    assert.ok(recomputeMs < 200, `recompute took ${recomputeMs} ms`)
  })
})

/*
 * Relays run over TCP on loopback: over the memory transport, libp2p's circuit listener throws
 * (uncaught) when a reservation is removed, because it asks getNetConfig about a /memory address.
 */
describe('relays (TCP on loopback)', () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({
      members: [{ name: 'victim', key: 'admin' }],
      keys: { admin: { rules: [{ to: ['*'] }] }, temp: { rules: [{ to: ['*'] }] } },
      ownerRelay: true,
      transport: 'tcp',
    })
    await waitConverged([mesh.owner, ...mesh.nodes], 1)
  })
  after(async () => mesh?.stop())

  it('a revoked node gets neither a reservation nor a relayed connection to a member', async () => {
    const victim = mesh.nodes[0]
    const key = await generateKeyPair('Ed25519')
    const join = parseJoinString(mesh.joins.temp)
    assert.ok(join.ok)
    const x = new MeshNode({
      privateKey: key,
      networkId: join.value.networkId,
      owner: join.value.ownerPeerId,
      name: 'x',
      claim: await claimMembership(join.value, key),
      bootstrap: [`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`],
      listen: ['/ip4/127.0.0.1/tcp/0'],
      log: quiet,
    })
    mesh.nodes.push(x)
    await x.start()
    await until(() => mesh.owner.membership.store.binding(x.peerId) != null, 8000, 'x bound')
    await mesh.owner.amendPolicy(revokeNodeChange(x.peerId))
    await until(() => victim.membership.store.isRevokedNode(x.peerId), 3000, 'revocation at the victim')
    await until(() => x.libp2pNode.getConnections().length === 0, 3000, 'x cut off')
    await assert.rejects(adapterOf(x.libp2pNode).reserveOn(mesh.owner.peerId), 'reservation granted')
    await assert.rejects(
      x.libp2pNode.dial(
        multiaddr(`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}/p2p-circuit/p2p/${victim.peerId}`),
        {
          signal: AbortSignal.timeout(5000),
        },
      ),
      'relayed connection made',
    )
    assert.equal(victim.libp2pNode.getConnections(peerIdFromString(x.peerId)).length, 0)
    assert.ok(!victim.membership.gate.isAdmitted(x.peerId))
  })
})

describe("a hostile member's sync answers", () => {
  let mesh: TestMesh
  before(async () => {
    mesh = await buildMesh({
      members: [{ name: 'hostile', key: 'guests' }],
      keys: { guests: { rules: [] } },
    })
    await waitConverged([mesh.owner, ...mesh.nodes], 1)
  })
  after(async () => mesh?.stop())

  it('an anti-entropy round with a hostile member costs the node little, however many records it returns', {}, async () => {
    const hostile = mesh.nodes[0]
    const policy = mesh.owner.membership.store.envelope
    assert.ok(policy)
    // records signed by throwaway identities: well-formed, this network, fresh, no valid claim
    const junk: Uint8Array[] = []
    for (let i = 0; i < 3000; i++) {
      const key = await generateKeyPair('Ed25519')
      junk.push(await forgeRecord(key, mesh.owner.networkId, 'AAAA'))
    }
    await hostile.libp2pNode.handle(
      SYNC_PROTOCOL,
      async (stream) => {
        const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
        await lp.read()
        const body = { v: 2, ok: true, policy: toBase64(policy), records: junk.map(toBase64) }
        await lp.write(new TextEncoder().encode(JSON.stringify(body)))
        await stream.close().catch(() => {})
      },
      { force: true, runOnLimitedConnection: true },
    )
    const sizeBefore = mesh.owner.topology.records.size
    const t0 = performance.now()
    await mesh.owner.topology.syncWith(peerIdFromString(hostile.peerId))
    const ms = performance.now() - t0
    console.log(`# one sync answer of ${junk.length} junk records took the owner ${ms.toFixed(0)} ms`)
    assert.equal(mesh.owner.topology.records.size, sizeBefore)
    assert.ok(ms < 500, `one sync answer took ${ms.toFixed(0)} ms`)
  })
})
