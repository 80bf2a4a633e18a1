/**
 * Valid encodings made with the real encoders: the seeds every fuzz target mutates. Keys are
 * derived from fixed bytes so a seed reproduces the same inputs on any machine.
 */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  claimToString,
  deriveMeshKey,
  encodeClaim,
  encodeControl,
  encodeJoinString,
  encodePolicy,
  encodeRecord,
  type MembershipClaim,
  type NodeRecord,
  networkIdFrom,
  type Policy,
  toBase64,
} from '../src/index.ts'

export interface Identity {
  key: Ed25519PrivateKey
  id: string
}

export interface Fixtures {
  owner: Identity
  node: Identity
  other: Identity
  revokedNode: Identity
  networkId: string
  secret: Uint8Array
  /** The mesh key of the reusable key `laptop`, and of the revoked key `old`. */
  mesh: Ed25519PrivateKey
  meshRevoked: Ed25519PrivateKey
  policy: Policy
  policyBytes: Uint8Array
  claimBody: MembershipClaim
  /** `node`'s claim envelope for key `laptop`. */
  claim: Uint8Array
  /** Claims of several kinds: node, other, revoked key, revoked node. */
  claims: Uint8Array[]
  records: NodeRecord[]
  recordBytes: Uint8Array[]
  controls: Uint8Array[]
  joins: string[]
  /** When the records were made: the record store is asked to judge them at this time. */
  now: number
}

export async function identity(b: number): Promise<Identity> {
  const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(b))
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

export function claimFor(
  fx: Pick<Fixtures, 'networkId'>,
  id: string,
  keyName: string,
  mesh: Ed25519PrivateKey,
): MembershipClaim {
  return {
    type: 'claim',
    v: 1,
    networkId: fx.networkId,
    peerId: id,
    keyName,
    keyPublicKey: toBase64(mesh.publicKey.raw),
    issuedAt: 1_700_000_200_000,
  }
}

export function recordFor(
  fx: Pick<Fixtures, 'networkId' | 'now'>,
  id: string,
  claim: string | null,
  n: number,
): NodeRecord {
  return {
    type: 'record',
    v: 1,
    networkId: fx.networkId,
    peerId: id,
    seq: fx.now + n,
    ts: fx.now,
    name: `node-${n}`,
    ip: `10.144.${(n >> 8) & 255}.${n & 255}`,
    counter: 0,
    addrs: ['/ip4/192.0.2.2/tcp/4001', '/ip6/2001:db8::2/tcp/4001'],
    links: [{ peer: id, path: 'direct', rttMs: 12.5 }],
    relays: [],
    claim,
    policyVersion: 3,
    relay: n % 2 === 0,
    observed: ['/ip4/198.51.100.7/tcp/4001'],
    routes: n % 2 === 0 ? ['192.168.1.0/24'] : [],
    exitNode: n % 3 === 0,
  }
}

export async function fixtures(): Promise<Fixtures> {
  const [owner, node, other, revokedNode] = await Promise.all([
    identity(1),
    identity(2),
    identity(3),
    identity(4),
  ])
  const networkId = networkIdFrom(owner.id, 'home', 1_700_000_000_000)
  const secret = new Uint8Array(32).fill(7)
  const mesh = await deriveMeshKey(secret, networkId)
  const meshRevoked = await deriveMeshKey(new Uint8Array(32).fill(8), networkId)
  const now = 1_700_000_300_000
  const policy: Policy = {
    type: 'policy',
    v: 1,
    networkId,
    name: 'home',
    subnet: '10.144.0.0/16',
    owner: owner.id,
    version: 3,
    issuedAt: 1_700_000_100_000,
    keys: [
      {
        name: 'laptop',
        publicKey: toBase64(mesh.publicKey.raw),
        acl: { rules: [{ to: ['node:server'], ports: ['22/tcp'] }] },
        tags: ['admin'],
        createdAt: 1_700_000_050_000,
        expiresAt: null,
        memberExpiresAt: null,
        reusable: true,
        claimedBy: null,
        maxMembers: 32,
        autoApprove: { routes: ['192.168.1.0/24'], exit: false },
      },
    ],
    revokedKeys: [
      { name: 'old', publicKey: toBase64(meshRevoked.publicKey.raw), revokedAt: 1_700_000_060_000 },
    ],
    revokedNodes: [{ peerId: revokedNode.id, revokedAt: 1_700_000_070_000 }],
    bootstrap: [`/ip4/192.0.2.1/tcp/4001/p2p/${owner.id}`],
    members: [
      { peerId: node.id, key: 'laptop', name: 'laptop', ip: '10.144.0.2', boundAt: 1_700_000_080_000 },
    ],
    routes: [{ peerId: node.id, route: '192.168.1.0/24', approvedAt: 1_700_000_090_000 }],
    admins: null,
  }
  const fx = { networkId, now }
  const claimBody = claimFor(fx, node.id, 'laptop', mesh)
  const claim = await encodeClaim(claimBody, mesh)
  const claims = [
    claim,
    await encodeClaim(claimFor(fx, other.id, 'laptop', mesh), mesh),
    await encodeClaim(claimFor(fx, other.id, 'old', meshRevoked), meshRevoked),
    await encodeClaim(claimFor(fx, revokedNode.id, 'laptop', mesh), mesh),
  ]
  const records = [
    recordFor(fx, node.id, claimToString(claim), 2),
    {
      ...recordFor(fx, other.id, claimToString(claims[1]), 3),
      links: [],
      addrs: [],
      relay: undefined,
      observed: undefined,
    },
    recordFor(fx, owner.id, null, 1),
  ]
  const signers = [node.key, other.key, owner.key]
  const recordBytes = await Promise.all(records.map((r, i) => encodeRecord(r, signers[i])))
  const controls = [
    encodeControl({ t: 'hello', v: 1, networkId, peerId: node.id }),
    encodeControl({ t: 'refuse', code: 'NOT_MEMBER', reason: 'key laptop is revoked' }),
    encodeControl({ t: 'close', code: 'BYE', reason: '' }),
  ]
  const join = (bootstrap: string[]) =>
    encodeJoinString({ networkId, keyName: 'laptop', secret, ownerPeerId: owner.id, bootstrap })
  const joins = [
    join(['/ip4/192.0.2.1/tcp/4001']),
    join([
      '/ip6/2001:db8::1/tcp/4001/ws',
      '/dns4/owner.example.com/tcp/443/wss',
      `/memory/owner/p2p/${owner.id}`,
    ]),
    join([]),
  ]
  return {
    owner,
    node,
    other,
    revokedNode,
    networkId,
    secret,
    mesh,
    meshRevoked,
    policy,
    policyBytes: await encodePolicy(policy, owner.key),
    claimBody,
    claim,
    claims,
    records,
    recordBytes,
    controls,
    joins,
    now,
  }
}
