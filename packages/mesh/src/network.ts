/**
 * Owner operations on a network's policy, and the member side of joining.
 *
 * Every change the owner makes is a new policy version: the previous body with the change applied,
 * `version + 1`, signed with the owner's node key. Nodes accept only the newest valid version, so
 * there is nothing to "push": publishing the envelope is enough.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  claimToString,
  deriveMeshKey,
  encodeClaim,
  encodeJoinString,
  encodePolicy,
  type JoinInfo,
  networkIdFrom,
  newMeshKeySecret,
  type Policy,
  type PolicyKey,
  parseCidr,
  publicKeyToRawBase64,
} from '@meshlan/wire'
import { validateAcl } from './acl/index.ts'
import { DEFAULT_SUBNET, TAILSCALE_RANGE } from './constants.ts'
import { DuplicateKeyError, InvalidAclError, InvalidSubnetError, UnknownKeyError } from './errors.ts'

export interface CreateNetworkInit {
  name: string
  /** @default DEFAULT_SUBNET */
  subnet?: string
  /** Routes of the host the subnet must not overlap (CIDRs). */
  hostRoutes?: string[]
  /** Accept an overlapping subnet anyway. @default false */
  force?: boolean
  bootstrap?: string[]
  now?: number
}

function overlaps(a: { base: number; mask: number }, b: { base: number; mask: number }): boolean {
  const m = (a.mask & b.mask) >>> 0
  return (a.base & m) >>> 0 === (b.base & m) >>> 0
}

/** Checks a subnet for use as an overlay: a private /8–/30 that overlaps nothing the host routes. */
export function checkSubnet(subnet: string, hostRoutes: string[] = [], force = false): void {
  const c = parseCidr(subnet)
  if (!c.ok) throw new InvalidSubnetError(subnet, `is not a CIDR (${c.reason}): use e.g. ${DEFAULT_SUBNET}`)
  if (c.prefix < 8 || c.prefix > 30) throw new InvalidSubnetError(subnet, 'must be between /8 and /30')
  if (force) return
  const ts = parseCidr(TAILSCALE_RANGE)
  if (ts.ok && overlaps(c, ts)) {
    throw new InvalidSubnetError(
      subnet,
      `overlaps Tailscale's ${TAILSCALE_RANGE}: pick another, or pass --force`,
    )
  }
  for (const r of hostRoutes) {
    const h = parseCidr(r)
    if (h.ok && h.prefix > 0 && overlaps(c, h)) {
      throw new InvalidSubnetError(subnet, `overlaps the host route ${r}: pick another, or pass --force`)
    }
  }
}

export async function createNetwork(
  ownerKey: PrivateKey,
  init: CreateNetworkInit,
): Promise<{ policy: Policy; envelope: Uint8Array }> {
  const subnet = init.subnet ?? DEFAULT_SUBNET
  checkSubnet(subnet, init.hostRoutes, init.force)
  const now = init.now ?? Date.now()
  const owner = peerIdFromPrivateKey(ownerKey).toString()
  const policy: Policy = {
    type: 'policy',
    v: 1,
    networkId: networkIdFrom(owner, init.name, now),
    name: init.name,
    subnet,
    owner,
    version: 1,
    issuedAt: now,
    keys: [],
    revokedKeys: [],
    revokedNodes: [],
    bootstrap: init.bootstrap ?? [],
  }
  return { policy, envelope: await encodePolicy(policy, ownerKey) }
}

/** Signs `next` as the version after `prev`. */
export async function nextVersion(
  prev: Policy,
  ownerKey: PrivateKey,
  change: (p: Policy) => Policy,
): Promise<{ policy: Policy; envelope: Uint8Array }> {
  const now = Date.now()
  const policy = {
    ...change(structuredClone(prev)),
    version: prev.version + 1,
    issuedAt: Math.max(now, prev.issuedAt),
  }
  return { policy, envelope: await encodePolicy(policy, ownerKey) }
}

export interface CreateKeyInit {
  name: string
  acl?: unknown
  tags?: string[]
  /** Expiry time in ms since epoch; null = never. */
  expiresAt?: number | null
  /** @default false (one-use) */
  reusable?: boolean
}

export function checkAcl(acl: unknown): void {
  const v = validateAcl(acl)
  if (!v.ok) throw new InvalidAclError(v.errors.map((e) => e.message))
}

/** Adds a mesh key; returns the new policy and the join string (the only copy of the secret). */
export async function createKey(
  prev: Policy,
  ownerKey: PrivateKey,
  init: CreateKeyInit,
  bootstrap: string[],
): Promise<{ policy: Policy; envelope: Uint8Array; joinString: string }> {
  if (prev.keys.some((k) => k.name === init.name)) throw new DuplicateKeyError(init.name)
  const acl = init.acl ?? { rules: [{ to: ['*'] }] }
  checkAcl(acl)
  const secret = newMeshKeySecret()
  const meshKey = await deriveMeshKey(secret, prev.networkId)
  const key: PolicyKey = {
    name: init.name,
    publicKey: publicKeyToRawBase64(meshKey.publicKey),
    acl: acl as PolicyKey['acl'],
    tags: init.tags ?? [init.name],
    createdAt: Date.now(),
    expiresAt: init.expiresAt ?? null,
    reusable: init.reusable ?? false,
    claimedBy: null,
  }
  const next = await nextVersion(prev, ownerKey, (p) => ({ ...p, keys: [...p.keys, key] }))
  const join: JoinInfo = {
    networkId: prev.networkId,
    keyName: init.name,
    secret,
    ownerPeerId: prev.owner,
    bootstrap: bootstrap.slice(0, 16),
  }
  return { ...next, joinString: encodeJoinString(join) }
}

export async function revokeKey(prev: Policy, ownerKey: PrivateKey, name: string) {
  const key = prev.keys.find((k) => k.name === name)
  if (key == null) throw new UnknownKeyError(name)
  return nextVersion(prev, ownerKey, (p) => ({
    ...p,
    keys: p.keys.filter((k) => k.name !== name),
    revokedKeys: [...p.revokedKeys, { name, publicKey: key.publicKey, revokedAt: Date.now() }],
  }))
}

export async function setKeyAcl(prev: Policy, ownerKey: PrivateKey, name: string, acl: unknown) {
  if (!prev.keys.some((k) => k.name === name)) throw new UnknownKeyError(name)
  checkAcl(acl)
  return nextVersion(prev, ownerKey, (p) => ({
    ...p,
    keys: p.keys.map((k) => (k.name === name ? { ...k, acl: acl as PolicyKey['acl'] } : k)),
  }))
}

export async function revokeNode(prev: Policy, ownerKey: PrivateKey, peerId: string) {
  return nextVersion(prev, ownerKey, (p) => ({
    ...p,
    revokedNodes: [...p.revokedNodes.filter((n) => n.peerId !== peerId), { peerId, revokedAt: Date.now() }],
  }))
}

/** Binds a one-use key to the first node that used it. */
export async function markKeyClaimed(prev: Policy, ownerKey: PrivateKey, name: string, peerId: string) {
  return nextVersion(prev, ownerKey, (p) => ({
    ...p,
    keys: p.keys.map((k) => (k.name === name ? { ...k, claimedBy: peerId } : k)),
  }))
}

export async function setBootstrap(prev: Policy, ownerKey: PrivateKey, bootstrap: string[]) {
  return nextVersion(prev, ownerKey, (p) => ({ ...p, bootstrap }))
}

/** The member side: turns a join string's secret into a claim for this node's peer id. */
export async function claimMembership(join: JoinInfo, nodeKey: PrivateKey): Promise<string> {
  const meshKey = await deriveMeshKey(join.secret, join.networkId)
  const envelope = await encodeClaim(
    {
      type: 'claim',
      v: 1,
      networkId: join.networkId,
      peerId: peerIdFromPrivateKey(nodeKey).toString(),
      keyName: join.keyName,
      keyPublicKey: publicKeyToRawBase64(meshKey.publicKey),
      issuedAt: Date.now(),
    },
    meshKey,
  )
  return claimToString(envelope)
}
