/**
 * The owner lock: whether this node may sign policies right now.
 *
 * A protected network keeps its policy-signing key encrypted at rest (owner-key.ts). The daemon
 * starts locked: the mesh node runs on its own node key, but nothing is signed until an admin gives
 * the passphrase (`meshlan unlock`, or the admin API's `POST /api/unlock`). `lock()` forgets the
 * decrypted key again. The admin API (part B of issue 11) calls this interface; the daemon
 * implements it.
 */
import { DaemonError } from './errors.ts'

export interface OwnerLock {
  /** True when the owner's signing key is encrypted at rest (a passphrase exists). */
  readonly protected: boolean
  /** True while the signing key is not in memory: admin actions are refused with OwnerLockedError. */
  readonly locked: boolean
  /** Decrypts the signing key; throws WrongPassphraseError (counted by the caller's Lockout). */
  unlock(passphrase: string): Promise<void>
  /** Forgets the decrypted signing key (a no-op when locked or unprotected). */
  lock(): void
}

/** An admin action (anything that signs a policy) while the owner key is locked. */
export class OwnerLockedError extends DaemonError {
  constructor(what = 'this') {
    super(
      'ERR_LOCKED',
      `locked: run \`meshlan unlock\` (the owner key is locked, so ${what} cannot be signed)`,
    )
    this.name = 'OwnerLockedError'
  }
}

/** The passphrase does not decrypt the owner key. */
export class WrongPassphraseError extends DaemonError {
  constructor() {
    super('ERR_WRONG_PASSPHRASE', 'wrong passphrase: the owner key was not unlocked (try again)')
    this.name = 'WrongPassphraseError'
  }
}

/** unlock/lock/protect on a network whose owner key has no passphrase. */
export class NotProtectedError extends DaemonError {
  constructor() {
    super(
      'ERR_NOT_PROTECTED',
      'the owner key has no passphrase, so there is nothing to unlock: run `meshlan network protect` to add one',
    )
    this.name = 'NotProtectedError'
  }
}
