/** Shared builders for the wire tests: deterministic keys, valid sample messages, a seeded PRNG. */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  deriveMeshKey,
  ipToUint32,
  type MembershipClaim,
  type NodeRecord,
  networkIdFrom,
  type Policy,
  toBase64,
} from '../src/index.ts'

export { prng } from '@meshlan/testkit'

export async function keyFromByte(b: number): Promise<Ed25519PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(b))
}

export interface World {
  owner: Ed25519PrivateKey
  ownerId: string
  node: Ed25519PrivateKey
  nodeId: string
  other: Ed25519PrivateKey
  otherId: string
  secret: Uint8Array
  mesh: Ed25519PrivateKey
  networkId: string
}

export async function world(): Promise<World> {
  const owner = await keyFromByte(1)
  const node = await keyFromByte(2)
  const other = await keyFromByte(3)
  const ownerId = peerIdFromPrivateKey(owner).toString()
  const networkId = networkIdFrom(ownerId, 'home', 1_700_000_000_000)
  const secret = new Uint8Array(32).fill(7)
  const mesh = await deriveMeshKey(secret, networkId)
  return {
    owner,
    ownerId,
    node,
    nodeId: peerIdFromPrivateKey(node).toString(),
    other,
    otherId: peerIdFromPrivateKey(other).toString(),
    secret,
    mesh,
    networkId,
  }
}

export function samplePolicy(w: World): Policy {
  return {
    type: 'policy',
    v: 1,
    networkId: w.networkId,
    name: 'home',
    subnet: '10.144.0.0/16',
    owner: w.ownerId,
    version: 3,
    issuedAt: 1_700_000_100_000,
    keys: [
      {
        name: 'laptop',
        publicKey: toBase64(w.mesh.publicKey.raw),
        acl: { rules: [{ allow: 'tcp:22', from: 'tag:admin' }], extra: true },
        tags: ['admin'],
        createdAt: 1_700_000_050_000,
        expiresAt: null,
        memberExpiresAt: 1_800_000_000_000,
        reusable: false,
        claimedBy: w.nodeId,
        maxMembers: 1,
        autoApprove: { routes: ['192.168.1.0/24'], exit: false },
      },
    ],
    revokedKeys: [{ name: 'old', publicKey: toBase64(w.other.publicKey.raw), revokedAt: 1_700_000_060_000 }],
    revokedNodes: [{ peerId: w.otherId, revokedAt: 1_700_000_070_000 }],
    bootstrap: ['/ip4/192.0.2.1/tcp/4001/p2p/' + w.ownerId],
    members: [
      { peerId: w.ownerId, key: 'owner', name: 'nas', ip: '10.144.0.1', boundAt: 1_700_000_010_000 },
      { peerId: w.nodeId, key: 'laptop', name: 'laptop', ip: '10.144.0.2', boundAt: 1_700_000_080_000 },
    ],
    routes: [{ peerId: w.nodeId, route: '192.168.1.0/24', approvedAt: 1_700_000_090_000 }],
    admins: null,
  }
}

export function sampleClaim(w: World): MembershipClaim {
  return {
    type: 'claim',
    v: 1,
    networkId: w.networkId,
    peerId: w.nodeId,
    keyName: 'laptop',
    keyPublicKey: toBase64(w.mesh.publicKey.raw),
    issuedAt: 1_700_000_200_000,
  }
}

export function sampleRecord(w: World, claim: string | null): NodeRecord {
  return {
    type: 'record',
    v: 1,
    networkId: w.networkId,
    peerId: w.nodeId,
    seq: 1_700_000_300_000,
    ts: 1_700_000_300_000,
    name: 'laptop',
    ip: '10.144.0.2',
    counter: 0,
    addrs: ['/ip4/192.0.2.2/udp/4001/quic-v1', '/ip6/2001:db8::2/tcp/4001'],
    links: [
      { peer: w.ownerId, path: 'direct', rttMs: 12.5 },
      { peer: w.otherId, path: 'relay', rttMs: null },
    ],
    relays: ['/ip4/192.0.2.1/tcp/4001/p2p/' + w.ownerId],
    claim,
    policyVersion: 3,
    routes: ['192.168.1.0/24', '10.0.0.0/8'],
    exitNode: true,
  }
}

export function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) | 0
  return out
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x3d]

/** Mutate a copy of `seed`: bit flips, byte sets, inserts, deletes, truncation, duplication. */
export function mutate(rand: () => number, seed: Uint8Array): Uint8Array {
  let b = seed.slice()
  const rounds = 1 + ((rand() * 4) | 0)
  for (let r = 0; r < rounds; r++) {
    const op = (rand() * 7) | 0
    const i = b.length === 0 ? 0 : (rand() * b.length) | 0
    switch (op) {
      case 0:
        if (b.length > 0) b[i] ^= 1 << ((rand() * 8) | 0)
        break
      case 1:
        if (b.length > 0) b[i] = INTERESTING[(rand() * INTERESTING.length) | 0]
        break
      case 2: {
        const n = new Uint8Array(b.length + 1)
        n.set(b.subarray(0, i), 0)
        n[i] = (rand() * 256) | 0
        n.set(b.subarray(i), i + 1)
        b = n
        break
      }
      case 3:
        if (b.length > 0) b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + 1)])
        break
      case 4:
        b = b.slice(0, i)
        break
      case 5: {
        const j = i + ((rand() * (b.length - i)) | 0)
        const n = new Uint8Array(b.length + (j - i))
        n.set(b.subarray(0, j), 0)
        n.set(b.subarray(i, j), j)
        n.set(b.subarray(j), j + (j - i))
        b = n
        break
      }
      default:
        if (b.length > 0) b[i] = (rand() * 256) | 0
    }
  }
  return b
}

export interface PacketSpec {
  proto: number
  src?: string
  dst?: string
  l4: number[]
  options?: number // option bytes (multiple of 4)
  fragOffset?: number
}

/** Build an IPv4 packet (checksum left 0: the parser does not check it). */
export function packet(spec: PacketSpec): Uint8Array {
  const opt = spec.options ?? 0
  const hl = 20 + opt
  const total = hl + spec.l4.length
  const b = new Uint8Array(total)
  b[0] = 0x40 | (hl >> 2)
  b[2] = total >> 8
  b[3] = total & 0xff
  const frag = spec.fragOffset ?? 0
  b[6] = (frag >> 8) & 0x1f
  b[7] = frag & 0xff
  b[8] = 64
  b[9] = spec.proto
  const s = ipToUint32(spec.src ?? '10.144.0.1')
  const d = ipToUint32(spec.dst ?? '10.144.0.2')
  for (let i = 0; i < 4; i++) {
    b[12 + i] = (s >>> (24 - 8 * i)) & 0xff
    b[16 + i] = (d >>> (24 - 8 * i)) & 0xff
  }
  b.set(spec.l4, hl)
  return b
}
