/**
 * The network's policy as this node knows it: the newest owner-signed version, and the membership
 * decisions that follow from it.
 *
 * A policy is accepted only when it is signed by the owner named in the join string (or by us, on
 * the owner), is for this network, and is newer than the one we hold. Membership of a peer is a
 * claim signed by a mesh key listed in the policy, binding that peer id to the key; the owner is
 * a member by definition. The owner then *binds* each member (policy `members`): its name and
 * overlay address, which nobody else may take. Decisions are made when a hello, record or sync
 * arrives and again when the policy changes or a key expires — never on the packet path.
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import {
  adminEpoch,
  decodeClaimString,
  decodeNetworkPolicy,
  type MemberBinding,
  type Policy,
  type PolicyKey,
  publicKeyFromPeerId,
  publicKeyFromRawBase64,
  type Signed,
  verifyClaim,
} from '@meshlan/wire'
import { type AclFile, aclToFile, allowAllAcl } from '../acl/index.ts'
import { MAX_ADMIN_CLOCK_AHEAD_MS, MAX_ADMIN_VERSION_STEP, MAX_CLAIM_CACHE } from '../constants.ts'
import type { Logger } from '../logger.ts'

/** The owner's implicit key: everything. */
export const OWNER_KEY_NAME = 'owner'
/** `allowAllAcl()` in the file form a policy carries: the owner's implicit key, `key create --allow-all`. */
export const ALLOW_ALL_ACL: AclFile = aclToFile(allowAllAcl())

export interface Membership {
  peerId: string
  keyName: string
  /** The ACL of the key the member joined with (raw; compiled by the node). */
  acl: unknown
  tags: string[]
  /** The owner's binding (name, address); null until the owner admitted the node. */
  binding: MemberBinding | null
  /** When this membership ends by itself (key expiry); null = not by time. */
  endsAt: number | null
}

export type MembershipResult = { ok: true; value: Membership } | { ok: false; reason: string }

export interface PolicyStoreEvents {
  change: [policy: Policy, previous: Policy | null]
}

export interface PolicyStoreInit {
  networkId: string
  owner: string
  /** This node's peer id: on the owner, unbound one-use claims are admitted so it can bind them. */
  self: string
  /** Policies older than this are refused (the join string's `minPolicyVersion`). @default 1 */
  minVersion?: number
  log: Logger
}

export class PolicyStore extends EventEmitter<PolicyStoreEvents> {
  readonly networkId: string
  readonly owner: string
  private readonly self: string
  private readonly minVersion: number
  private current: Signed<Policy> | null = null
  /** Who signed `current`: 'owner', or a delegated admin's peer id. */
  private currentSigner = 'owner'
  private bindings = new Map<string, MemberBinding>()
  /** Bound members per key name, for the per-key cap. */
  private boundPerKey = new Map<string, number>()
  /** peerId → verified claim → key, for the current policy version (successes only, bounded). */
  private readonly claimCache = new Map<string, { claim: string; key: PolicyKey }>()
  private readonly log: Logger

  constructor(init: PolicyStoreInit) {
    super()
    this.networkId = init.networkId
    this.owner = init.owner
    this.self = init.self
    this.minVersion = init.minVersion ?? 1
    this.log = init.log
  }

  get policy(): Policy | null {
    return this.current?.body ?? null
  }

  get envelope(): Uint8Array | null {
    return this.current?.bytes ?? null
  }

  get version(): number {
    return this.current?.body.version ?? 0
  }

  /**
   * Offers a policy envelope. Returns 'accepted', 'stale' (not newer: ignore) or a rejection reason
   * (bad signature, other network, …: the sender is misbehaving).
   */
  async offer(bytes: Uint8Array): Promise<'accepted' | 'stale' | { rejected: string }> {
    const ownerKey = publicKeyFromPeerId(this.owner)
    if (!ownerKey.ok) return { rejected: ownerKey.reason }
    // the owner's signature before any schema work; a delegated admin's only when the policy's
    // own owner-signed certificate names it (bounded: one certificate, at most 8 admin keys)
    const dec = await decodeNetworkPolicy(bytes, ownerKey.value)
    if (!dec.ok)
      return {
        rejected:
          dec.reason === 'signature'
            ? 'policy is signed by neither the owner nor a delegated admin'
            : dec.reason,
      }
    const p = dec.value.body
    if (p.networkId !== this.networkId) return { rejected: 'policy is for another network' }
    if (p.owner !== this.owner) return { rejected: 'policy names another owner' }
    if (dec.signer !== 'owner') {
      const why = this.beyondAdmin(p)
      if (why != null) return { rejected: `delegated admin ${dec.signer.slice(-8)}: ${why}` }
    }
    if (!this.isNewer(p, bytes, dec.signer)) return 'stale'
    if (p.version < this.minVersion) {
      return {
        rejected: `policy version ${p.version} is older than our join string's (${this.minVersion}): a stale copy`,
      }
    }
    const previous = this.current?.body ?? null
    this.current = dec.value
    this.currentSigner = dec.signer
    this.bindings = new Map(p.members.map((m) => [m.peerId, m]))
    this.boundPerKey = new Map()
    for (const m of p.members) this.boundPerKey.set(m.key, (this.boundPerKey.get(m.key) ?? 0) + 1)
    this.claimCache.clear()
    this.log.info('policy accepted', { version: p.version, keys: p.keys.length, members: p.members.length })
    this.emit('change', p, previous)
    return 'accepted'
  }

  /**
   * Which of two policies wins: the higher admin epoch (the owner's certificate: a removed admin's
   * versions lose to any version of the next epoch), then the higher version; at one version the
   * owner's over an admin's, and of two admins' (signed at once) the lower SHA-256 of the envelope,
   * so every node settles on the same one. Two owner-signed documents of one version: the first
   * stays (the owner's signer is serial; a second one is a stale copy's and must fail as stale).
   */
  private isNewer(p: Policy, bytes: Uint8Array, signer: string): boolean {
    const cur = this.current
    if (cur == null) return true
    const e = adminEpoch(p) - adminEpoch(cur.body)
    if (e !== 0) return e > 0
    if (p.version !== cur.body.version) return p.version > cur.body.version
    if (this.currentSigner === 'owner') return false
    if (signer === 'owner') return true
    const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
    return hash(bytes) < hash(cur.bytes)
  }

  /**
   * What a delegated admin may not do, though its signature is valid: touch the owner's node (its
   * binding, or revoke it), make another node the owner's (a binding or a key named `owner`),
   * change the subnet, or revoke, unbind or remove the key of an admin node. The owner's certificate in the policy it cannot
   * forge, and an older one loses on epoch (isNewer). Null: within its rights.
   */
  private beyondAdmin(p: Policy): string | null {
    const cur = this.current?.body
    if (cur == null) return null
    const ownerNodes = cur.members.filter((m) => m.key === OWNER_KEY_NAME)
    for (const m of ownerNodes) {
      const kept = p.members.find((x) => x.peerId === m.peerId)
      if (kept == null || kept.key !== OWNER_KEY_NAME || kept.ip !== m.ip || kept.name !== m.name)
        return 'an admin cannot change the owner’s node'
    }
    // nor make a node the owner's (a binding under `owner`), nor shadow that name with a key
    if (p.members.filter((m) => m.key === OWNER_KEY_NAME).length !== ownerNodes.length)
      return 'an admin cannot bind a node as the owner’s'
    if (p.keys.some((k) => k.name === OWNER_KEY_NAME) && !cur.keys.some((k) => k.name === OWNER_KEY_NAME))
      return `an admin cannot create a key named ${OWNER_KEY_NAME}`
    if (p.subnet !== cur.subnet) return 'an admin cannot change the subnet'
    // no leaps: a version far above the one held would leave the owner's signer no room above it
    if (p.version > cur.version + MAX_ADMIN_VERSION_STEP)
      return `an admin version may be at most ${MAX_ADMIN_VERSION_STEP} above the one held`
    if (p.issuedAt > Date.now() + MAX_ADMIN_CLOCK_AHEAD_MS)
      return 'an admin version cannot be issued in the future'
    // an admin node stays a member exactly as it is: its binding, and the key it joined with
    // (entry unchanged, not revoked) — only the owner removes an admin, by a new certificate
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
    for (const id of p.admins?.nodes ?? []) {
      const was = cur.members.find((m) => m.peerId === id)
      if (was == null) continue
      const wasKey = cur.keys.find((k) => k.name === was.key)
      const isKey = p.keys.find((k) => k.name === was.key)
      const newlyRevoked = p.revokedKeys.some(
        (r) =>
          (r.name === was.key || r.publicKey === wasKey?.publicKey) &&
          !cur.revokedKeys.some((c) => c.name === r.name && c.publicKey === r.publicKey),
      )
      if (
        !same(
          p.members.find((m) => m.peerId === id),
          was,
        ) ||
        !same(isKey, wasKey) ||
        newlyRevoked
      )
        return 'an admin cannot change an admin node’s binding or key'
    }
    const before = new Set(cur.revokedNodes.map((n) => n.peerId))
    const protectedIds = new Set([this.owner, ...ownerNodes.map((m) => m.peerId), ...(p.admins?.nodes ?? [])])
    for (const n of p.revokedNodes)
      if (!before.has(n.peerId) && protectedIds.has(n.peerId))
        return 'an admin cannot revoke the owner’s or an admin’s node'
    return null
  }

  /** Whether `peerId` is a delegated admin under the policy we hold. */
  isAdmin(peerId: string): boolean {
    return this.current?.body.admins?.nodes.includes(peerId) ?? false
  }

  isRevokedNode(peerId: string): boolean {
    return this.current?.body.revokedNodes.some((n) => n.peerId === peerId) ?? false
  }

  key(name: string): PolicyKey | undefined {
    return this.current?.body.keys.find((k) => k.name === name)
  }

  /**
   * The owner's node: the owner's own peer id, or — on a protected network, whose owner key is not
   * a node key — the node the owner bound under the reserved key name `owner`. Only the owner signs
   * bindings, so such a binding is the owner's word; no mesh key may carry that name (a policy with
   * one grants nobody this way).
   */
  isOwnerNode(peerId: string): boolean {
    if (peerId === this.owner) return true
    const policy = this.current?.body
    if (policy == null || this.bindings.get(peerId)?.key !== OWNER_KEY_NAME) return false
    return !policy.keys.some((k) => k.name === OWNER_KEY_NAME)
  }

  binding(peerId: string): MemberBinding | undefined {
    return this.bindings.get(peerId)
  }

  /** Decides whether `peerId`, presenting `claim` (null for the owner), is a member now. */
  async membership(peerId: string, claim: string | null, now = Date.now()): Promise<MembershipResult> {
    const policy = this.current?.body
    if (policy == null) return { ok: false, reason: 'no policy yet' }
    if (this.isRevokedNode(peerId)) return { ok: false, reason: 'node is revoked' }
    const binding = this.bindings.get(peerId) ?? null
    if (this.isOwnerNode(peerId)) {
      return {
        ok: true,
        value: {
          peerId,
          keyName: OWNER_KEY_NAME,
          acl: ALLOW_ALL_ACL,
          tags: [OWNER_KEY_NAME],
          binding,
          endsAt: null,
        },
      }
    }
    if (claim == null) return { ok: false, reason: 'no membership claim' }
    let key: PolicyKey
    const cached = this.claimCache.get(peerId)
    if (cached != null && cached.claim === claim) {
      key = cached.key
    } else {
      const checked = await this.checkClaim(policy, peerId, claim)
      if (!checked.ok) return checked
      key = checked.key
      // only cache if the policy didn't change while we were verifying
      if (this.current?.body === policy) {
        if (this.claimCache.size >= MAX_CLAIM_CACHE) {
          this.claimCache.delete(this.claimCache.keys().next().value as string)
        }
        this.claimCache.set(peerId, { claim, key })
      }
    }
    return decide(
      key,
      peerId,
      binding,
      this.boundPerKey.get(key.name) ?? 0,
      this.isOwnerNode(this.self) && peerId !== this.self,
      now,
    )
  }

  private async checkClaim(
    policy: Policy,
    peerId: string,
    claim: string,
  ): Promise<{ ok: true; key: PolicyKey } | { ok: false; reason: string }> {
    const dec = decodeClaimString(claim)
    if (!dec.ok) return { ok: false, reason: dec.reason }
    const c = dec.value.body
    if (c.networkId !== this.networkId) return { ok: false, reason: 'claim is for another network' }
    if (c.peerId !== peerId) return { ok: false, reason: 'claim is for another peer' }
    if (policy.revokedKeys.some((k) => k.publicKey === c.keyPublicKey)) {
      return { ok: false, reason: `key ${c.keyName} is revoked` }
    }
    const key = policy.keys.find((k) => k.name === c.keyName && k.publicKey === c.keyPublicKey)
    if (key == null) return { ok: false, reason: `key ${c.keyName} is not in the policy` }
    const pub = publicKeyFromRawBase64(key.publicKey)
    if (!pub.ok) return { ok: false, reason: pub.reason }
    if (!(await verifyClaim(dec.value, pub.value)))
      return { ok: false, reason: 'claim signature is not the key’s' }
    return { ok: true, key }
  }
}

/**
 * The time rules and the binding rules, given a claim verified for `key`:
 * - a bound member stays a member until the key's `memberExpiresAt` (or a revocation);
 * - an unbound one only while the key still admits newcomers (`expiresAt`), and never for a
 *   one-use key — except on the owner itself, which must see it to bind it.
 */
function decide(
  key: PolicyKey,
  peerId: string,
  binding: MemberBinding | null,
  bound: number,
  selfIsOwner: boolean,
  now: number,
): MembershipResult {
  if (key.memberExpiresAt != null && key.memberExpiresAt <= now) {
    return { ok: false, reason: `memberships of key ${key.name} ended at ${iso(key.memberExpiresAt)}` }
  }
  if (binding != null && binding.key !== key.name) {
    return { ok: false, reason: `node is bound to key ${binding.key}, not ${key.name}` }
  }
  if (!key.reusable && key.claimedBy != null && key.claimedBy !== peerId) {
    return { ok: false, reason: `one-use key ${key.name} was already used by another node` }
  }
  if (binding == null) {
    if (key.expiresAt != null && key.expiresAt <= now) {
      return { ok: false, reason: `key ${key.name} stopped admitting new nodes at ${iso(key.expiresAt)}` }
    }
    if (key.maxMembers != null && bound >= key.maxMembers) {
      return {
        ok: false,
        reason: `key ${key.name} already admitted its ${key.maxMembers} nodes: ask the owner for another key`,
      }
    }
    if (!key.reusable && key.claimedBy !== peerId && !selfIsOwner) {
      return {
        ok: false,
        reason: `one-use key ${key.name} is bound by the owner only: the owner must be online to admit a new node`,
      }
    }
  }
  const ends = [key.memberExpiresAt, binding == null ? key.expiresAt : null].filter((t) => t != null)
  return {
    ok: true,
    value: {
      peerId,
      keyName: key.name,
      acl: key.acl,
      tags: key.tags,
      binding,
      endsAt: ends.length === 0 ? null : Math.min(...ends),
    },
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
