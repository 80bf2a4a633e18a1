/**
 * Writes protocol-vectors.json: one example of every byte format docs/protocol.md specifies, made
 * with the real encoders from fixed key seeds (Ed25519 signatures are deterministic, so the output
 * is the same on every run). Run once when a format changes, and commit the JSON with the doc:
 *
 *   node packages/wire/test/vectors/generate.ts
 *
 * protocol-vectors.test.ts decodes every vector with the real parsers. Payload JSON here is written
 * by hand in the field order of the doc's tables, then checked against what the encoder produces,
 * so the vectors also pin the encoder's canonical form.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { assignAddresses, candidateAddress } from '../../../mesh/src/addressing.ts'
import {
  claimToString,
  DCUTR_CONNECT,
  deriveMeshKey,
  encodeClaim,
  encodeControl,
  encodeFrame,
  encodeHelloAnswer,
  encodeHelloOffer,
  encodeHolePunch,
  encodeJoinString,
  encodePolicy,
  encodeRecord,
  FRAME_TYPE_CONTROL,
  FRAME_TYPE_IP,
  FRAME_TYPE_IP_VNET,
  type MembershipClaim,
  meshKeySeed,
  type NodeRecord,
  networkIdFrom,
  type Policy,
  parseCidr,
  signingBytes,
  toBase64,
  uint32ToIp,
} from '../../src/index.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const utf8 = (s: string) => new TextEncoder().encode(s)
const seedKey = (byte: number) => generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(byte))

/** The ones'-complement sum of 16-bit big-endian words, folded, not inverted. */
function sum16(b: Uint8Array, from: number, to: number, start = 0): number {
  let s = start
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}

/**
 * The type-3 example of docs/protocol.md: UDP 10.144.0.2:40000 → 10.144.0.1:`dport`, payload
 * `meshlan`, IP id 7, DF, TTL 64, IP checksum filled, the UDP checksum field holding the
 * pseudo-header sum only (what a kernel with checksum offload hands over with NEEDS_CSUM).
 */
function udpPartial(dport: number): Uint8Array {
  const data = utf8('meshlan')
  const p = new Uint8Array(20 + 8 + data.length)
  p.set([0x45, 0x00, 0x00, p.length, 0x00, 0x07, 0x40, 0x00, 64, 17, 0, 0, 10, 144, 0, 2, 10, 144, 0, 1])
  const hc = ~sum16(p, 0, 20) & 0xffff
  p[10] = hc >> 8
  p[11] = hc & 0xff
  const udpLen = 8 + data.length
  p.set([40000 >> 8, 40000 & 0xff, dport >> 8, dport & 0xff, 0, udpLen], 20)
  p.set(data, 28)
  // pseudo header: source, destination, zero + protocol, UDP length
  const pseudo = sum16(p, 12, 20, 17 + udpLen)
  p[26] = pseudo >> 8
  p[27] = pseudo & 0xff
  return p
}

/** A legacy virtio_net_hdr (10 bytes, little-endian u16 fields). */
function vnetHeader(
  flags: number,
  gsoType: number,
  hdrLen: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
) {
  const h = new Uint8Array(10)
  const dv = new DataView(h.buffer)
  h[0] = flags
  h[1] = gsoType
  dv.setUint16(2, hdrLen, true)
  dv.setUint16(4, gsoSize, true)
  dv.setUint16(6, csumStart, true)
  dv.setUint16(8, csumOffset, true)
  return h
}

/** The bytes of a length-prefixed message: unsigned varint length, then the message. */
function lengthPrefixed(msg: Uint8Array): Uint8Array {
  const prefix: number[] = []
  let n = msg.length
  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  prefix.push(n)
  return new Uint8Array([...prefix, ...msg])
}

/** A 28-byte IPv4 ICMP echo request 10.144.0.2 → 10.144.0.1 (id 0x1234, seq 1), checksums filled. */
function icmpEcho(): Uint8Array {
  const p = new Uint8Array(28)
  p.set([0x45, 0x00, 0x00, 28, 0x00, 0x01, 0x40, 0x00, 64, 1, 0, 0, 10, 144, 0, 2, 10, 144, 0, 1])
  p.set([8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01], 20)
  const sum = (from: number, to: number) => {
    let s = 0
    for (let i = from; i < to; i += 2) s += (p[i] << 8) | p[i + 1]
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
    return ~s & 0xffff
  }
  const ic = sum(20, 28)
  p[22] = ic >> 8
  p[23] = ic & 0xff
  const hc = sum(0, 20)
  p[10] = hc >> 8
  p[11] = hc & 0xff
  return p
}

async function main(): Promise<void> {
  const owner = await seedKey(0x00)
  const node = await seedKey(0x02)
  const ownerId = peerIdFromPrivateKey(owner).toString()
  const nodeId = peerIdFromPrivateKey(node).toString()
  const createdAt = 0
  const networkId = networkIdFrom(ownerId, 'home', createdAt)
  const secret = new Uint8Array(32).fill(0x07)
  const mesh = await deriveMeshKey(secret, networkId)
  const meshPub = toBase64(mesh.publicKey.raw)
  const bootstrap = [`/ip4/192.0.2.1/tcp/7946/p2p/${ownerId}`]

  // ---- tunnel frames -------------------------------------------------------------------------
  const ip = icmpEcho()
  const refuse = { t: 'refuse' as const, code: 'ACL', reason: 'key guests may reach nothing here' }
  const controlHello = { t: 'hello' as const, v: 1 as const, networkId, peerId: nodeId }
  // virtio_net_hdr (10 bytes, little-endian fields): no flags, GSO_NONE: a plain packet behind it
  const vnetHdr = new Uint8Array(10)
  const frames = {
    ip: {
      hex: hex(encodeFrame(FRAME_TYPE_IP, ip)),
      expect: { type: 1, length: ip.length, src: '10.144.0.2', dst: '10.144.0.1', proto: 1, icmpType: 8 },
    },
    control_refuse: {
      hex: hex(encodeFrame(FRAME_TYPE_CONTROL, encodeControl(refuse))),
      payloadText: JSON.stringify(refuse),
      expect: { type: 2, message: refuse },
    },
    control_hello: {
      hex: hex(encodeFrame(FRAME_TYPE_CONTROL, encodeControl(controlHello))),
      payloadText: JSON.stringify(controlHello),
      expect: { type: 2, message: controlHello },
    },
    ip_vnet: {
      hex: hex(encodeFrame(FRAME_TYPE_IP_VNET, new Uint8Array([...vnetHdr, ...ip]))),
      expect: { type: 3, length: 10 + ip.length, vnetHeaderHex: hex(vnetHdr), src: '10.144.0.2' },
    },
    ip_vnet_csum: {
      // NEEDS_CSUM at the UDP checksum (csum_start = IHL 20, csum_offset = 6): the docs' valid example
      hex: hex(
        encodeFrame(
          FRAME_TYPE_IP_VNET,
          new Uint8Array([...vnetHeader(1, 0, 0, 0, 20, 6), ...udpPartial(53)]),
        ),
      ),
      expect: { type: 3, verdict: { ok: true }, dport: 53 },
    },
    ip_vnet_port_rewrite: {
      // issue 8 §1: csum_start 22 = the UDP destination port; the checksum would overwrite port 22
      hex: hex(
        encodeFrame(
          FRAME_TYPE_IP_VNET,
          new Uint8Array([
            ...vnetHeader(1, 0, 0, 0, 22, 0),
            ...udpPartial(22).map((b, i) => (i === 26 || i === 27 ? 0 : b)),
          ]),
        ),
      ),
      expect: { type: 3, verdict: { ok: false, reason: 'CSUM_START' }, dport: 22 },
    },
    two_frames_one_chunk: {
      hex: hex(new Uint8Array([...encodeFrame(FRAME_TYPE_IP, ip), ...encodeFrame(FRAME_TYPE_IP, ip)])),
      expect: { ipFrames: 2 },
    },
    bad_type: { hex: '04000000', expect: { error: 'BAD_FRAME_TYPE', type: 4 } },
    too_long: { hex: '01010010', expect: { error: 'FRAME_TOO_LONG', length: 0x010010 } },
  }

  // ---- signed envelopes ------------------------------------------------------------------------
  // the owner binds each member to its counter-0 candidate in 10.144.0.0/16 when that one is free
  const home = parseCidr('10.144.0.0/16')
  assert.ok(home.ok)
  const ownerIp = uint32ToIp(
    candidateAddress(networkId, ownerId, 0, { base: home.base, prefix: home.prefix }),
  )
  const nodeIp = uint32ToIp(candidateAddress(networkId, nodeId, 0, { base: home.base, prefix: home.prefix }))
  assert.notEqual(ownerIp, nodeIp)
  const policy: Policy = {
    type: 'policy',
    v: 1,
    networkId,
    name: 'home',
    subnet: '10.144.0.0/16',
    owner: ownerId,
    version: 2,
    issuedAt: 1_700_000_000_000,
    keys: [
      {
        name: 'laptop',
        publicKey: meshPub,
        acl: { rules: [{ to: ['node:nas'], ports: ['22/tcp'] }] },
        tags: ['admin'],
        createdAt: 1_700_000_000_000,
        expiresAt: null,
        memberExpiresAt: null,
        reusable: true,
        claimedBy: null,
        maxMembers: 32,
        autoApprove: { routes: ['192.168.1.0/24'], exit: false },
      },
    ],
    revokedKeys: [],
    revokedNodes: [],
    bootstrap,
    members: [
      { peerId: ownerId, key: 'owner', name: 'nas', ip: ownerIp, boundAt: 1_700_000_000_000 },
      { peerId: nodeId, key: 'laptop', name: 'laptop', ip: nodeIp, boundAt: 1_700_000_150_000 },
    ],
    routes: [
      { peerId: nodeId, route: '192.168.1.0/24', approvedAt: 1_700_000_160_000 },
      { peerId: ownerId, route: 'exit', approvedAt: 1_700_000_170_000 },
    ],
    admins: null,
  }
  const claim: MembershipClaim = {
    type: 'claim',
    v: 1,
    networkId,
    peerId: nodeId,
    keyName: 'laptop',
    keyPublicKey: meshPub,
    issuedAt: 1_700_000_100_000,
  }
  const claimEnv = await encodeClaim(claim, mesh)
  const record: NodeRecord = {
    type: 'record',
    v: 1,
    networkId,
    peerId: nodeId,
    seq: 1_700_000_200_000,
    ts: 1_700_000_200_000,
    name: 'laptop',
    ip: nodeIp,
    counter: 0,
    addrs: ['/ip4/192.0.2.2/tcp/7946'],
    links: [{ peer: ownerId, path: 'direct', rttMs: 1.5 }],
    relays: [],
    claim: claimToString(claimEnv),
    policyVersion: 2,
    relay: false,
    observed: [],
    routes: ['192.168.1.0/24'],
    exitNode: false,
  }
  const envelope = async (type: string, body: object, encoded: Uint8Array, signerPublicKey: string) => {
    const payload = utf8(JSON.stringify(body))
    const outer = JSON.parse(new TextDecoder().decode(encoded)) as { p: string; s: string }
    // the doc's field order is the encoder's: the hand-written payload is exactly what was signed
    assert.equal(outer.p, toBase64(payload), `${type}: encoder payload = fields in the doc's order`)
    return {
      hex: hex(encoded),
      payloadText: new TextDecoder().decode(payload),
      signedMessageHex: hex(signingBytes(type, payload)),
      signatureHex: hex(Buffer.from(outer.s, 'base64')),
      signer: signerPublicKey,
      expect: body,
    }
  }
  const envelopes = {
    policy: await envelope('policy', policy, await encodePolicy(policy, owner), ownerId),
    claim: await envelope('claim', claim, claimEnv, meshPub),
    record: await envelope('record', record, await encodeRecord(record, node), nodeId),
  }

  // ---- the membership handshake (/meshlan/hello/1.0.0) -------------------------------------------
  const helloMsg = (bytes: Uint8Array) => ({ hex: hex(bytes), lengthPrefixedHex: hex(lengthPrefixed(bytes)) })
  const hello = {
    offer_claim: {
      ...helloMsg(encodeHelloOffer({ kind: 'claim', claim: claimEnv })),
      expect: { kind: 'claim', claimHex: hex(claimEnv) },
    },
    offer_owner: { ...helloMsg(encodeHelloOffer({ kind: 'owner' })), expect: { kind: 'owner' } },
    answer_admitted_owner: {
      ...helloMsg(encodeHelloAnswer({ admitted: true, proof: { kind: 'owner' } })),
      expect: { admitted: true, proof: { kind: 'owner' } },
    },
    answer_admitted_claim: {
      ...helloMsg(encodeHelloAnswer({ admitted: true, proof: { kind: 'claim', claim: claimEnv } })),
      expect: { admitted: true, proof: { kind: 'claim', claimHex: hex(claimEnv) } },
    },
    answer_refused: {
      ...helloMsg(encodeHelloAnswer({ admitted: false, reason: 'key laptop is revoked' })),
      expect: { admitted: false, reason: 'key laptop is revoked' },
    },
    // offers a receiver refuses (with these reasons), and answers a dialler refuses
    bad_offers: [
      { hex: '02010000', reason: 'hello: unsupported version 2' },
      { hex: '0102', reason: 'hello: unknown proof kind 2' },
      { hex: '0101', reason: 'hello: empty claim' },
      { hex: '010000', reason: 'hello: owner proof carries bytes' },
      { hex: '01', reason: 'hello: message too short' },
    ],
    bad_answers: [
      { hex: '0102', reason: 'hello: unknown answer status 2' },
      { hex: '0101ff', reason: 'hello: refusal reason is not UTF-8' },
    ],
  }

  // ---- join string, mesh key, network id ---------------------------------------------------------
  const joinInfo = { networkId, keyName: 'laptop', secret, ownerPeerId: ownerId, bootstrap }
  const join = {
    text: encodeJoinString(joinInfo),
    expect: { networkId, keyName: 'laptop', secretHex: hex(secret), ownerPeerId: ownerId, bootstrap },
  }
  const meshKey = {
    secretHex: hex(secret),
    networkId,
    seedHex: hex(meshKeySeed(secret, networkId)),
    publicKeyBase64: meshPub,
  }
  const netId = { ownerPeerId: ownerId, name: 'home', createdAt, networkId }

  // ---- overlay addresses -----------------------------------------------------------------------
  const subnet = '10.144.0.0/29' // 6 host addresses: a collision among a few peers is easy to find
  const cidr = parseCidr(subnet)
  assert.ok(cidr.ok)
  const net = { base: cidr.base, prefix: cidr.prefix }
  const candidate = (peerId: string, counter: number) => {
    const input = `meshlan-addr/v1|${networkId}|${peerId}|${counter}`
    const digest = createHash('sha256').update(input, 'utf8').digest()
    return {
      counter,
      inputText: input,
      sha256Hex: digest.toString('hex'),
      ip: uint32ToIp(candidateAddress(networkId, peerId, counter, net)),
    }
  }
  // find peers (seeds 0x10…) two of which want the same first address
  const peers: string[] = []
  let collision: [string, string] | null = null
  for (let b = 0x10; b < 0x80 && collision == null; b++) {
    const id = peerIdFromPrivateKey(await seedKey(b)).toString()
    const mine = candidate(id, 0).ip
    const other = peers.find((p) => candidate(p, 0).ip === mine)
    peers.push(id)
    if (other != null) collision = [other, id]
  }
  assert.ok(collision != null, 'found two colliding peers')
  const members = collision
  const assigned = assignAddresses(networkId, net, members)
  const addresses = {
    networkId,
    subnet,
    candidates: members.map((p) => ({ peerId: p, first: candidate(p, 0), second: candidate(p, 1) })),
    assignment: Object.fromEntries(
      [...assigned].map(([p, a]) => [p, { ip: uint32ToIp(a.ip), counter: a.counter }]),
    ),
  }

  // ---- DCUtR -----------------------------------------------------------------------------------
  // binary multiaddr /ip4/198.51.100.7/tcp/7946: code 0x04 + 4 address bytes, code 0x06 + u16 BE port
  const obs = new Uint8Array([0x04, 198, 51, 100, 7, 0x06, 7946 >> 8, 7946 & 0xff])
  const dcutr = {
    hex: hex(encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: [obs] })),
    expect: { type: DCUTR_CONNECT, obsAddrs: ['/ip4/198.51.100.7/tcp/7946'], obsAddrsHex: [hex(obs)] },
  }

  const out = {
    about:
      'Test vectors for docs/protocol.md, made by packages/wire/test/vectors/generate.ts from fixed ' +
      'key seeds and decoded by packages/wire/test/protocol-vectors.test.ts. Byte strings are hex.',
    keys: {
      owner: { ed25519SeedHex: hex(new Uint8Array(32).fill(0)), peerId: ownerId },
      node: { ed25519SeedHex: hex(new Uint8Array(32).fill(2)), peerId: nodeId },
      meshKeySecretHex: hex(secret),
    },
    frames,
    envelopes,
    hello,
    join,
    meshKey,
    networkId: netId,
    addresses,
    dcutr,
  }
  const path = fileURLToPath(new URL('./protocol-vectors.json', import.meta.url))
  writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`)
  console.log(`wrote ${path}`)
}

await main()
