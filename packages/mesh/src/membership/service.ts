/**
 * The membership service (a js-libp2p service): the policy store, the gate (hello handshake and
 * the wrapping of every protocol handler), the key-expiry timer and, on the owner, the one signer
 * and the binder. Everything else in the node asks it who is a member.
 */
import { EventEmitter } from 'node:events'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Policy } from '@meshlan/wire'
import { BIND_DEBOUNCE_MS, EXPIRY_CHECK_MAX_MS } from '../constants.ts'
import { NotOwnerError, StalePolicyError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { PolicyChange } from '../network.ts'
import {
  type Advertised,
  type AutoApproveRequest,
  autoApprovable,
  autoApprovals,
} from '../routing/auto-approve.ts'
import { type BindRequest, bindMembers } from './binder.ts'
import { type GateComponents, MembershipGate } from './gate.ts'
import { type Membership, type MembershipResult, OWNER_KEY_NAME, PolicyStore } from './policy-store.ts'
import { PolicySigner } from './signer.ts'

export interface MembershipInit {
  networkId: string
  /** Peer id of the network owner: the only key whose policies we accept. */
  owner: string
  /** Our membership claim (base64 envelope); null on the owner. */
  claim: string | null
  /** The newest policy envelope we hold (always, on the owner). */
  policy?: Uint8Array | null
  /** Our node key: signs policy versions when we are the owner. */
  privateKey: PrivateKey
  /**
   * A protected network's owner key, kept apart from the node key: this node is then the owner's
   * node (bound under the `owner` key name) and signs with this key. It throws while locked, so
   * every change (CLI or binder) fails with the lock's error and nothing else changes.
   */
  signingKey?: () => PrivateKey
  /** Policies older than this are refused (from the join string). @default 1 */
  minPolicyVersion?: number
  log: Logger
}

export interface MembershipComponents extends GateComponents {
  peerId: PeerId
}

export interface MembershipEvents {
  /** A newer policy was accepted (from anywhere). */
  policy: [policy: Policy, envelope: Uint8Array]
  /** We (the owner) signed a new version: it must be published. */
  signed: [envelope: Uint8Array]
  /** Time passed a key's expiry: memberships must be decided again. */
  expiry: []
}

export class MembershipService extends EventEmitter<MembershipEvents> {
  readonly store: PolicyStore
  readonly gate: MembershipGate
  readonly selfId: string
  private readonly init: MembershipInit
  private readonly signer: PolicySigner | null
  /** On a delegated admin node: signs with this node's key (made on first use). */
  private adminSigner: PolicySigner | null = null
  private readonly binds = new Map<string, BindRequest>()
  /** Route/exit offers its key auto-approves, waiting for the next batch (one per member). */
  private readonly approvals = new Map<string, AutoApproveRequest>()
  /** Peers the binder refused, with the policy version it refused them at (bounded by members). */
  private readonly unbindable = new Map<string, number>()
  private bindTimer: NodeJS.Timeout | null = null
  private expiryTimer: NodeJS.Timeout | null = null
  private running = false

  constructor(init: MembershipInit, components: MembershipComponents) {
    super()
    this.init = init
    this.selfId = components.peerId.toString()
    this.store = new PolicyStore({
      networkId: init.networkId,
      owner: init.owner,
      self: this.selfId,
      minVersion: init.minPolicyVersion,
      log: init.log.child('policy'),
    })
    this.gate = new MembershipGate(
      { store: this.store, selfId: this.selfId, claim: init.claim, log: init.log.child('gate') },
      components,
    )
    this.signer = this.isOwner ? this.newSigner(init.signingKey ?? init.privateKey) : null
    this.store.on('change', (policy) => {
      const env = this.store.envelope
      if (env != null) this.emit('policy', policy, env)
      void this.gate.revalidate()
      this.scheduleExpiry()
    })
  }

  /** We sign policies: the owner's node itself, or the owner's node of a protected network. */
  get isOwner(): boolean {
    return this.selfId === this.init.owner || this.init.signingKey != null
  }

  get claim(): string | null {
    return this.init.claim
  }

  async start(): Promise<void> {
    this.running = true
    if (this.init.policy != null) {
      const r = await this.store.offer(this.init.policy)
      if (typeof r === 'object') this.init.log.warn('stored policy refused', { reason: r.rejected })
    }
    await this.gate.start()
  }

  async afterStart(): Promise<void> {
    await this.gate.afterStart()
  }

  stop(): void {
    this.running = false
    this.gate.stop()
    if (this.bindTimer != null) clearTimeout(this.bindTimer)
    if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
  }

  /** A signer over our policy store: a version counts once the store took it (then it is gossiped). */
  private newSigner(key: PrivateKey | (() => PrivateKey)): PolicySigner {
    return new PolicySigner({
      ownerKey: key,
      current: () => this.store.policy,
      apply: async (envelope, policy) => {
        const r = await this.store.offer(envelope)
        if (r !== 'accepted') {
          throw new StalePolicyError(policy.version, r === 'stale' ? 'a newer version exists' : r.rejected)
        }
        this.emit('signed', envelope)
      },
    })
  }

  membership(peerId: string, claim: string | null): Promise<MembershipResult> {
    return this.store.membership(peerId, claim)
  }

  /**
   * The one way to change the policy; every caller (CLI, binder) goes through it. On the owner its
   * signer; on a delegated admin node (named in the policy we hold) one that signs with this node's
   * key — the owner's certificate in the policy makes every node accept it (policy-store.ts).
   */
  amend(change: PolicyChange): Promise<{ policy: Policy; envelope: Uint8Array }> {
    if (this.signer != null) return this.signer.amend(change)
    if (!this.store.isAdmin(this.selfId)) return Promise.reject(new NotOwnerError('change the policy'))
    this.adminSigner ??= this.newSigner(this.init.privateKey)
    return this.adminSigner.amend(change)
  }

  /**
   * On the owner, at start: bind itself before it answers anyone, so its name and address are final
   * at once. A locked owner key cannot sign: the node runs unbound until unlocked (the binder retries).
   */
  async bindSelf(wanted: string): Promise<void> {
    if (!this.isOwner || this.store.policy == null || this.store.binding(this.selfId) != null) return
    const self = [{ peerId: this.selfId, key: OWNER_KEY_NAME, wanted }]
    await this.amend(bindMembers(self, Date.now())).catch((err: Error) =>
      this.init.log.warn('binding the owner node failed', { error: err.message }),
    )
  }

  /**
   * On the owner: bind a member (or ourselves) that is not bound yet. Requests arriving close
   * together become one policy version.
   */
  requestBind(peerId: string, membership: Membership, wanted: string): void {
    if (!this.isOwner || membership.binding != null || this.binds.has(peerId)) return
    // refused at this policy version already (key full, expired…): asking again changes nothing
    if (this.unbindable.get(peerId) === this.store.version) return
    this.binds.set(peerId, { peerId, key: membership.keyName, wanted })
    this.bindTimer ??= setTimeout(() => void this.bindNow(), BIND_DEBOUNCE_MS)
  }

  /**
   * On the owner: approve what a bound member's record advertises and its key's autoApprove covers.
   * Batched with the binds (same debounce; the binds are signed first, then the approvals).
   */
  requestAutoApprove(peerId: string, offer: Advertised): void {
    const policy = this.store.policy
    if (!this.isOwner || policy == null || autoApprovable(policy, peerId, offer).length === 0) return
    this.approvals.set(peerId, { peerId, routes: [...offer.routes], exitNode: offer.exitNode })
    this.bindTimer ??= setTimeout(() => void this.bindNow(), BIND_DEBOUNCE_MS)
  }

  private async approveNow(): Promise<void> {
    const requests = [...this.approvals.values()]
    this.approvals.clear()
    const policy = this.store.policy
    if (requests.length === 0 || !this.running || policy == null) return
    const change = autoApprovals(requests, Date.now())
    if (change(structuredClone(policy)).routes.length === policy.routes.length) return
    try {
      const r = await this.amend(change)
      this.init.log.info('routes auto-approved', {
        count: r.policy.routes.length - policy.routes.length,
        policyVersion: r.policy.version,
      })
    } catch (err) {
      this.init.log.warn('auto-approving routes failed', { error: (err as Error).message })
    }
  }

  private async bindNow(): Promise<void> {
    this.bindTimer = null
    await this.bindMembersNow()
    // after the binds: approvals are for bound members only
    await this.approveNow()
  }

  private async bindMembersNow(): Promise<void> {
    const requests = [...this.binds.values()]
    this.binds.clear()
    const policy = this.store.policy
    if (requests.length === 0 || !this.running || policy == null) return
    const refused: string[] = []
    const change = bindMembers(requests, Date.now(), (peer, reason) => {
      refused.push(peer)
      this.init.log.info('member not bound', { peer, reason })
    })
    // nothing to bind: no new policy version (every version costs every node a revalidation)
    if (change(structuredClone(policy)).members.length === policy.members.length) {
      for (const p of refused) this.unbindable.set(p, this.store.version)
      return
    }
    try {
      const r = await this.amend(change)
      for (const p of refused) this.unbindable.set(p, r.policy.version)
      this.init.log.info('members bound', {
        count: r.policy.members.length - policy.members.length,
        policyVersion: r.policy.version,
      })
    } catch (err) {
      this.init.log.warn('binding members failed', { error: (err as Error).message })
    }
  }

  /** Fires at the next key expiry (join-by or membership end), or at least every minute. */
  private scheduleExpiry(): void {
    if (this.expiryTimer != null) clearTimeout(this.expiryTimer)
    if (!this.running) return
    const now = Date.now()
    let next = now + EXPIRY_CHECK_MAX_MS
    for (const k of this.store.policy?.keys ?? []) {
      for (const t of [k.expiresAt, k.memberExpiresAt]) if (t != null && t > now && t < next) next = t
    }
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = null
        void this.gate.revalidate().then(() => this.emit('expiry'))
        this.scheduleExpiry()
      },
      next - now + 1,
    )
    this.expiryTimer.unref()
  }
}

/** The libp2p service factory: `services: { membership: membership(init) }`. */
export function membership(init: MembershipInit): (components: MembershipComponents) => MembershipService {
  return (components) => new MembershipService(init, components)
}
