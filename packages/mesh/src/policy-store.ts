/**
 * The network's policy as this node knows it: the newest owner-signed version, and the membership
 * decisions that follow from it.
 *
 * A policy is accepted only when it is signed by the owner named in the join string (or by us, on
 * the owner), is for this network, and is newer than the one we hold. Membership of a peer is a
 * claim signed by a mesh key listed in the policy, binding that peer id to the key; the owner is
 * a member by definition. Claims are checked when a record or sync hello arrives, never later on
 * the packet path: the result is cached until the policy changes.
 */
import { EventEmitter } from 'node:events'
import {
  decodeClaimString,
  decodePolicy,
  type Policy,
  type PolicyKey,
  publicKeyFromPeerId,
  publicKeyFromRawBase64,
  type Signed,
  verifyClaim,
  verifyPolicy,
} from '@meshlan/wire'
import type { Logger } from './logger.ts'

/** The owner's implicit key: everything. */
export const OWNER_KEY_NAME = 'owner'
export const ALLOW_ALL_ACL = { rules: [{ to: ['*'] }] }

export interface Membership {
  peerId: string
  keyName: string
  /** The ACL of the key the member joined with (raw; compiled by the node). */
  acl: unknown
  tags: string[]
}

export type MembershipResult = { ok: true; value: Membership } | { ok: false; reason: string }

export interface PolicyStoreEvents {
  change: [policy: Policy, previous: Policy | null]
}

export class PolicyStore extends EventEmitter<PolicyStoreEvents> {
  readonly networkId: string
  readonly owner: string
  private current: Signed<Policy> | null = null
  /** peerId → claim string → membership, valid for the current policy version */
  private readonly claimCache = new Map<string, { claim: string; result: MembershipResult }>()
  private readonly log: Logger

  constructor(networkId: string, owner: string, log: Logger) {
    super()
    this.networkId = networkId
    this.owner = owner
    this.log = log
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
    const dec = decodePolicy(bytes)
    if (!dec.ok) return { rejected: dec.reason }
    const p = dec.value.body
    if (p.networkId !== this.networkId) return { rejected: `policy is for network ${p.networkId}` }
    if (p.owner !== this.owner) return { rejected: 'policy names another owner' }
    if (p.version <= this.version) return 'stale'
    const ownerKey = publicKeyFromPeerId(this.owner)
    if (!ownerKey.ok) return { rejected: ownerKey.reason }
    if (!(await verifyPolicy(dec.value, ownerKey.value)))
      return { rejected: 'policy signature is not the owner’s' }
    if (p.version <= this.version) return 'stale' // raced with another offer while verifying
    const previous = this.current?.body ?? null
    this.current = dec.value
    this.claimCache.clear()
    this.log.info('policy accepted', { version: p.version, keys: p.keys.length })
    this.emit('change', p, previous)
    return 'accepted'
  }

  isRevokedNode(peerId: string): boolean {
    return this.current?.body.revokedNodes.some((n) => n.peerId === peerId) ?? false
  }

  key(name: string): PolicyKey | undefined {
    return this.current?.body.keys.find((k) => k.name === name)
  }

  /** Decides whether `peerId`, presenting `claim` (null for the owner), is a member now. */
  async membership(peerId: string, claim: string | null, now = Date.now()): Promise<MembershipResult> {
    const policy = this.current?.body
    if (policy == null) return { ok: false, reason: 'no policy yet' }
    if (this.isRevokedNode(peerId)) return { ok: false, reason: 'node is revoked' }
    if (peerId === this.owner) {
      return {
        ok: true,
        value: { peerId, keyName: OWNER_KEY_NAME, acl: ALLOW_ALL_ACL, tags: [OWNER_KEY_NAME] },
      }
    }
    if (claim == null) return { ok: false, reason: 'no membership claim' }
    const cached = this.claimCache.get(peerId)
    let result: MembershipResult
    if (cached != null && cached.claim === claim) {
      result = cached.result
    } else {
      result = await this.checkClaim(policy, peerId, claim)
      // only cache if the policy didn't change while we were verifying
      if (this.current?.body === policy) this.claimCache.set(peerId, { claim, result })
    }
    if (!result.ok) return result
    const key = policy.keys.find((k) => k.name === result.value.keyName)
    if (key?.expiresAt != null && key.expiresAt <= now) {
      return { ok: false, reason: `key ${key.name} expired` }
    }
    return result
  }

  private async checkClaim(policy: Policy, peerId: string, claim: string): Promise<MembershipResult> {
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
    if (!key.reusable && key.claimedBy != null && key.claimedBy !== peerId) {
      return { ok: false, reason: `one-use key ${key.name} was already used by another node` }
    }
    const pub = publicKeyFromRawBase64(key.publicKey)
    if (!pub.ok) return { ok: false, reason: pub.reason }
    if (!(await verifyClaim(dec.value, pub.value)))
      return { ok: false, reason: 'claim signature is not the key’s' }
    return { ok: true, value: { peerId, keyName: key.name, acl: key.acl, tags: key.tags } }
  }
}
