/**
 * The one policy signer. Every new policy version — a key created or revoked, an ACL changed, a
 * node revoked, a member bound — is `change(newest)` signed as newest.version + 1, one at a time,
 * and counts as done only once `apply` took it (on a running node: the policy store accepted it;
 * offline: it is on disk). A change built on an out-of-date policy cannot happen: the signer always
 * reads the newest version itself, after the previous change was applied.
 */
import type { PrivateKey } from '@libp2p/interface'
import type { Policy } from '@meshlan/wire'
import { NoPolicyError } from '../errors.ts'
import { nextVersion, type PolicyChange } from '../network.ts'

export interface PolicySignerInit {
  /**
   * The key that signs, or a function handing it out per change: a protected owner key is only in
   * memory while unlocked, and the function throws (e.g. the daemon's OwnerLockedError) while not.
   */
  ownerKey: PrivateKey | (() => PrivateKey)
  /** The newest policy this node holds. */
  current(): Policy | null | Promise<Policy | null>
  /** Makes the signed version take effect; throws (e.g. StalePolicyError) when it did not. */
  apply(envelope: Uint8Array, policy: Policy): Promise<void>
}

export class PolicySigner {
  private readonly init: PolicySignerInit
  private queue: Promise<unknown> = Promise.resolve()

  constructor(init: PolicySignerInit) {
    this.init = init
  }

  amend(change: PolicyChange): Promise<{ policy: Policy; envelope: Uint8Array }> {
    const run = this.queue.then(async () => {
      const prev = await this.init.current()
      if (prev == null) throw new NoPolicyError()
      const k = this.init.ownerKey
      const next = await nextVersion(prev, typeof k === 'function' ? k() : k, change)
      await this.init.apply(next.envelope, next.policy)
      return next
    })
    this.queue = run.catch(() => {})
    return run
  }
}
