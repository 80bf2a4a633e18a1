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
  type Admins,
  checkRoutePrefix,
  cidrsOverlap,
  cidrWithin,
  claimToString,
  deriveMeshKey,
  EXIT_ROUTE,
  encodeClaim,
  encodeJoinString,
  encodePolicy,
  type JoinInfo,
  MAX_POLICY_ROUTES,
  networkIdFrom,
  newMeshKeySecret,
  type Policy,
  type PolicyKey,
  parseCidr,
  publicKeyToRawBase64,
} from '@meshlan/wire'
import { type AclFile, aclToFile, denyAllAcl, parseAcl, validateAcl } from './acl/index.ts'
import { DEFAULT_KEY_MAX_MEMBERS, DEFAULT_SUBNET, PRIVATE_RANGES, TAILSCALE_RANGE } from './constants.ts'
import {
  DuplicateKeyError,
  InvalidAclError,
  InvalidSubnetError,
  UnknownKeyError,
  UnknownNodeError,
} from './errors.ts'
import {
  InvalidRouteError,
  RouteNotApprovedError,
  RouteOverlapsOverlayError,
  TooManyRoutesError,
} from './routing/errors.ts'

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

/** Checks a subnet for use as an overlay: a private /8–/30 that overlaps nothing the host routes. */
export function checkSubnet(subnet: string, hostRoutes: string[] = [], force = false): void {
  const c = parseCidr(subnet)
  if (!c.ok) throw new InvalidSubnetError(subnet, `is not a CIDR (${c.reason}): use e.g. ${DEFAULT_SUBNET}`)
  if (c.prefix < 8 || c.prefix > 30) throw new InvalidSubnetError(subnet, 'must be between /8 and /30')
  if (force) return
  // RFC 1918 and RFC 6598 (CGNAT): a public range would hide the real hosts that own it
  const inside = PRIVATE_RANGES.some((r) => {
    const p = parseCidr(r)
    return p.ok && cidrWithin(c, p)
  })
  if (!inside) {
    throw new InvalidSubnetError(
      subnet,
      'is not a private range: overlay addresses there would hide the internet hosts that own ' +
        'them; use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (e.g. ' +
        `${DEFAULT_SUBNET}), or pass --force`,
    )
  }
  const ts = parseCidr(TAILSCALE_RANGE)
  if (ts.ok && cidrsOverlap(c, ts)) {
    throw new InvalidSubnetError(
      subnet,
      `overlaps Tailscale's ${TAILSCALE_RANGE}: pick another, or pass --force`,
    )
  }
  for (const r of hostRoutes) {
    const h = parseCidr(r)
    if (h.ok && h.prefix > 0 && cidrsOverlap(c, h)) {
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
    members: [],
    routes: [],
    admins: null,
  }
  return { policy, envelope: await encodePolicy(policy, ownerKey) }
}

/** A pure change to a policy body; throws a named error when it does not apply. */
export type PolicyChange = (p: Policy) => Policy

/** Signs `change(prev)` as the version after `prev`. Only the PolicySigner calls this on a node. */
export async function nextVersion(
  prev: Policy,
  ownerKey: PrivateKey,
  change: PolicyChange,
): Promise<{ policy: Policy; envelope: Uint8Array }> {
  const now = Date.now()
  const policy = {
    ...change(structuredClone(prev)),
    version: prev.version + 1,
    issuedAt: Math.max(now, prev.issuedAt),
  }
  return { policy, envelope: await encodePolicy(policy, ownerKey) }
}

/** A key without rules reaches nothing: access is granted explicitly (docs/acl.md). */
export const DENY_ALL_ACL = aclToFile(denyAllAcl())

export interface CreateKeyInit {
  name: string
  /** @default DENY_ALL_ACL (default deny) */
  acl?: unknown
  tags?: string[]
  /** The key admits no new member after this time (ms since epoch); null = never. */
  expiresAt?: number | null
  /** Every membership of the key ends at this time (ms since epoch); null = never. */
  memberExpiresAt?: number | null
  /** @default false (one-use) */
  reusable?: boolean
  /**
   * Most nodes the owner admits with the key.
   * @default 1 for a one-use key, DEFAULT_KEY_MAX_MEMBERS for a reusable one
   */
  maxMembers?: number | null
  /** Routes / exit offers of the key's members the owner approves on sight. @default none */
  autoApprove?: { routes: string[]; exit: boolean }
}

/** ACLs `readAclText` made (validated, frozen): `checkAcl` passes them without validating again. */
const checkedAcls = new WeakSet<object>()

/**
 * Parses ACL text once into the file form a policy carries, for newKey/setAcl to take as it is.
 * Throws InvalidAclError whose issues name the rule and field.
 */
export function readAclText(text: string): AclFile {
  const r = parseAcl(text)
  if (!r.ok) throw new InvalidAclError(r.errors.map((e) => e.message))
  const file = aclToFile(r.acl)
  // frozen, so what was checked is what gets signed
  for (const rule of file.rules) {
    Object.freeze(rule.to)
    if (rule.ports !== undefined) Object.freeze(rule.ports)
    Object.freeze(rule)
  }
  Object.freeze(file.rules)
  Object.freeze(file)
  checkedAcls.add(file)
  return file
}

/** Validates an ACL value given to newKey/setAcl (skipped for one from `readAclText`). */
export function checkAcl(acl: unknown): void {
  if (typeof acl === 'object' && acl !== null && checkedAcls.has(acl)) return
  const v = validateAcl(acl)
  if (!v.ok) throw new InvalidAclError(v.errors.map((e) => e.message))
}

/** Makes a mesh key (its secret exists only in the returned join string) and the change adding it. */
export async function newKey(
  policy: Policy,
  init: CreateKeyInit,
  bootstrap: string[],
): Promise<{ change: PolicyChange; joinString: string }> {
  if (policy.keys.some((k) => k.name === init.name)) throw new DuplicateKeyError(init.name)
  const acl = init.acl ?? DENY_ALL_ACL
  checkAcl(acl)
  const secret = newMeshKeySecret()
  const meshKey = await deriveMeshKey(secret, policy.networkId)
  const key: PolicyKey = {
    name: init.name,
    publicKey: publicKeyToRawBase64(meshKey.publicKey),
    acl: acl as PolicyKey['acl'],
    tags: init.tags ?? [init.name],
    createdAt: Date.now(),
    expiresAt: init.expiresAt ?? null,
    memberExpiresAt: init.memberExpiresAt ?? null,
    reusable: init.reusable ?? false,
    claimedBy: null,
    maxMembers: init.maxMembers ?? (init.reusable === true ? DEFAULT_KEY_MAX_MEMBERS : 1),
    autoApprove: init.autoApprove ?? { routes: [], exit: false },
  }
  const join: JoinInfo = {
    networkId: policy.networkId,
    keyName: init.name,
    secret,
    ownerPeerId: policy.owner,
    bootstrap: bootstrap.slice(0, 16),
    // the key first appears in the next version: a policy older than that is a stale copy
    minPolicyVersion: policy.version + 1,
  }
  const change: PolicyChange = (p) => {
    if (p.keys.some((k) => k.name === init.name)) throw new DuplicateKeyError(init.name)
    return { ...p, keys: [...p.keys, key] }
  }
  return { change, joinString: encodeJoinString(join) }
}

/** Adds a mesh key; returns the new policy and the join string (the only copy of the secret). */
export async function createKey(
  prev: Policy,
  ownerKey: PrivateKey,
  init: CreateKeyInit,
  bootstrap: string[],
): Promise<{ policy: Policy; envelope: Uint8Array; joinString: string }> {
  const { change, joinString } = await newKey(prev, init, bootstrap)
  return { ...(await nextVersion(prev, ownerKey, change)), joinString }
}

/** Revokes a key: its members lose membership and their bindings (their addresses become free). */
export function removeKey(name: string): PolicyChange {
  return (p) => {
    const key = p.keys.find((k) => k.name === name)
    if (key == null) throw new UnknownKeyError(name)
    const gone = new Set(p.members.filter((m) => m.key === name).map((m) => m.peerId))
    return {
      ...p,
      keys: p.keys.filter((k) => k.name !== name),
      members: p.members.filter((m) => m.key !== name),
      // a revoked member's routes and exit approval go with it
      routes: p.routes.filter((r) => !gone.has(r.peerId)),
      revokedKeys: [...p.revokedKeys, { name, publicKey: key.publicKey, revokedAt: Date.now() }],
    }
  }
}

export function setAcl(name: string, acl: unknown): PolicyChange {
  checkAcl(acl)
  return (p) => {
    if (!p.keys.some((k) => k.name === name)) throw new UnknownKeyError(name)
    return { ...p, keys: p.keys.map((k) => (k.name === name ? { ...k, acl: acl as PolicyKey['acl'] } : k)) }
  }
}

/**
 * Installs the owner's certificate of delegated admins (wire signAdmins; always a higher epoch than
 * the one it replaces, also when it names nobody, so versions signed under the old one lose).
 */
export function setAdmins(admins: Admins): PolicyChange {
  return (p) => ({ ...p, admins })
}

export function revokeNodeChange(peerId: string): PolicyChange {
  return (p) => ({
    ...p,
    members: p.members.filter((m) => m.peerId !== peerId),
    routes: p.routes.filter((r) => r.peerId !== peerId),
    revokedNodes: [...p.revokedNodes.filter((n) => n.peerId !== peerId), { peerId, revokedAt: Date.now() }],
  })
}

/**
 * Checks a route given to approveRoute/revokeRoute: `'exit'` or a routable prefix (wire's
 * checkRoutePrefix) outside the overlay `subnet`. Throws InvalidRouteError / RouteOverlapsOverlayError.
 */
export function checkRoute(route: string, subnet: string | null): void {
  if (route === EXIT_ROUTE) return
  const r = checkRoutePrefix(route)
  if (!r.ok) throw new InvalidRouteError(route, r.reason)
  const overlay = subnet == null ? null : parseCidr(subnet)
  if (overlay?.ok === true && cidrsOverlap(r, overlay))
    throw new RouteOverlapsOverlayError(route, subnet as string)
}

/**
 * The owner approves `route` (a prefix or `'exit'`) of the bound member `peerId`. Whether the node
 * advertises it is the caller's check (it has the records: RouteNotAdvertisedError); an approval of
 * something not advertised routes nothing. Approving twice changes nothing.
 */
export function approveRoute(peerId: string, route: string, now = Date.now()): PolicyChange {
  checkRoute(route, null)
  return (p) => {
    checkRoute(route, p.subnet)
    if (!p.members.some((m) => m.peerId === peerId)) throw new UnknownNodeError(peerId)
    if (p.routes.some((r) => r.peerId === peerId && r.route === route)) return p
    if (p.routes.length >= MAX_POLICY_ROUTES) throw new TooManyRoutesError(MAX_POLICY_ROUTES)
    return { ...p, routes: [...p.routes, { peerId, route, approvedAt: now }] }
  }
}

/** The owner withdraws an approval; RouteNotApprovedError when there is none. */
export function revokeRoute(peerId: string, route: string, nodeName = peerId): PolicyChange {
  return (p) => {
    if (!p.routes.some((r) => r.peerId === peerId && r.route === route)) {
      throw new RouteNotApprovedError(nodeName, route)
    }
    return { ...p, routes: p.routes.filter((r) => !(r.peerId === peerId && r.route === route)) }
  }
}

export async function revokeKey(prev: Policy, ownerKey: PrivateKey, name: string) {
  return nextVersion(prev, ownerKey, removeKey(name))
}

export async function setKeyAcl(prev: Policy, ownerKey: PrivateKey, name: string, acl: unknown) {
  return nextVersion(prev, ownerKey, setAcl(name, acl))
}

export async function revokeNode(prev: Policy, ownerKey: PrivateKey, peerId: string) {
  return nextVersion(prev, ownerKey, revokeNodeChange(peerId))
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

export {
  InvalidRouteError,
  RouteNotAdvertisedError,
  RouteNotApprovedError,
  RouteOverlapsOverlayError,
  TooManyRoutesError,
} from './routing/errors.ts'
export { checkAdvertised, newestRecords, type RouteOverviewNode, routeOverview } from './routing/overview.ts'
