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
  const hello = { t: 'hello' as const, v: 1 as const, networkId, peerId: nodeId }
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
      hex: hex(encodeFrame(FRAME_TYPE_CONTROL, encodeControl(hello))),
      payloadText: JSON.stringify(hello),
      expect: { type: 2, message: hello },
    },
    ip_vnet: {
      hex: hex(encodeFrame(FRAME_TYPE_IP_VNET, new Uint8Array([...vnetHdr, ...ip]))),
      expect: { type: 3, length: 10 + ip.length, vnetHeaderHex: hex(vnetHdr), src: '10.144.0.2' },
    },
    two_frames_one_chunk: {
      hex: hex(new Uint8Array([...encodeFrame(FRAME_TYPE_IP, ip), ...encodeFrame(FRAME_TYPE_IP, ip)])),
      expect: { ipFrames: 2 },
    },
    bad_type: { hex: '04000000', expect: { error: 'BAD_FRAME_TYPE', type: 4 } },
    too_long: { hex: '01010010', expect: { error: 'FRAME_TOO_LONG', length: 0x010010 } },
  }

  // ---- signed envelopes ------------------------------------------------------------------------
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
        acl: { rules: [{ to: ['node:server'], ports: ['22/tcp'] }] },
        tags: ['admin'],
        createdAt: 1_700_000_000_000,
        expiresAt: null,
        reusable: true,
        claimedBy: null,
      },
    ],
    revokedKeys: [],
    revokedNodes: [],
    bootstrap,
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
    ip: '10.144.0.2',
    counter: 0,
    addrs: ['/ip4/192.0.2.2/tcp/7946'],
    links: [{ peer: ownerId, path: 'direct', rttMs: 1.5 }],
    relays: [],
    claim: claimToString(claimEnv),
    policyVersion: 2,
    relay: false,
    observed: [],
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
