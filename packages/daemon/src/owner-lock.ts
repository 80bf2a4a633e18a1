/**
 * The owner lock: whether this node may sign policies right now.
 *
 * A protected network keeps its policy-signing key encrypted at rest (owner-key.ts). The daemon
 * starts locked: the mesh node runs on its own node key, but nothing is signed until an admin gives
 * the passphrase (`meshlan unlock`, or the admin API's `POST /api/unlock`). `lock()` forgets the
 * decrypted key again. The admin API (part B of issue 11) calls this interface; the daemon
 * implements it.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { PrivateKey } from '@libp2p/interface'
import { DaemonError } from './errors.ts'
import { decryptOwnerKey } from './owner-key.ts'

/** The encrypted owner key in the state directory (a protected network only). */
export const OWNER_KEY_FILE = 'owner.key'

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
      'the owner key has no passphrase, so there is nothing to lock or unlock (a network created without ' +
        '--passphrase-file keeps its owner key readable; docs/admin-security.md)',
    )
    this.name = 'NotProtectedError'
  }
}

/**
 * The daemon's OwnerLock over `<state>/owner.key`. Unlocked, the decrypted key stays in this
 * object only; `autoLockMs` forgets it after that long without a signature (idle auto-lock).
 */
export class OwnerKeyLock implements OwnerLock {
  readonly file: string
  /** Idle auto-lock (`[admin] auto_lock`); null: never. Changeable: config reload. */
  autoLockMs: number | null
  private key: PrivateKey | null = null
  private timer: NodeJS.Timeout | null = null

  constructor(init: { file: string; autoLockMs?: number | null }) {
    this.file = init.file
    this.autoLockMs = init.autoLockMs ?? null
  }

  /** Read from disk each time: `network protect` may add the file while the daemon runs. */
  get protected(): boolean {
    return existsSync(this.file)
  }

  get locked(): boolean {
    return this.key == null
  }

  async unlock(passphrase: string): Promise<void> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotProtectedError()
      throw err
    }
    this.key = await decryptOwnerKey(bytes, passphrase, this.file)
    this.touch()
  }

  /** Takes a key decrypted elsewhere (network create / protect, which just had the passphrase). */
  hold(key: PrivateKey): void {
    this.key = key
    this.touch()
  }

  lock(): void {
    this.key = null
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = null
  }

  /** The signing key; throws OwnerLockedError while locked. Each use restarts the idle timer. */
  signingKey(what?: string): PrivateKey {
    if (this.key == null) throw new OwnerLockedError(what)
    this.touch()
    return this.key
  }

  private touch(): void {
    if (this.autoLockMs == null) return
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.lock(), this.autoLockMs)
    this.timer.unref()
  }
}
