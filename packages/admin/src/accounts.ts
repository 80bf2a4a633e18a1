/**
 * Admin accounts in `<state>/admin.json` (0600, written crash-safe by the daemon's
 * writeFileAtomic): password hashes, TOTP secrets with their hashed recovery codes, and the hashed
 * one-time bootstrap token. Every change is serialised and written before it is acted on.
 *
 * The TOTP secret is kept as is: verifying a code needs it (RFC 6238 is symmetric). The file is
 * root-only, like the identity key next to it.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  ACCOUNTS_FILE,
  BOOTSTRAP_TTL_MS,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  RECOVERY_CODES,
  TOTP_PENDING_TTL_MS,
  USERNAME_RE,
} from './constants.ts'
import {
  AlreadyBootstrappedError,
  BadRequestError,
  BootstrapTokenError,
  TotpStateError,
  TotpWrongError,
  UnknownAdminError,
} from './errors.ts'
import { dummyHash, hashPassword, SCRYPT_DEFAULT, type ScryptParams, verifyPassword } from './passwords.ts'
import { normalizeRecoveryCode, randomToken, recoveryCode, safeEqual, sha256 } from './secrets.ts'
import { checkTotp, newTotp } from './totp.ts'
import type { WriteFile } from './types.ts'

interface StoredTotp {
  secret: string
  /** Time step of the last code accepted (never accepted again). */
  lastStep: number | null
  /** SHA-256 of each unused recovery code. */
  recovery: string[]
}

interface StoredUser {
  username: string
  password: string
  createdAt: number
  totp: (StoredTotp & { enabledAt: number }) | null
  /** Enrolment waiting for its first code. */
  pendingTotp: (StoredTotp & { expiresAt: number }) | null
}

interface AccountsData {
  version: 1
  users: StoredUser[]
  bootstrap: { tokenHash: string; expiresAt: number } | null
}

export interface AccountStoreInit {
  stateDir: string
  writeFile: WriteFile
  /** Lower scrypt cost for tests. @default SCRYPT_DEFAULT */
  scrypt?: ScryptParams
  now?: () => number
}

/** What a second factor proved: a TOTP code, or a recovery code (now spent). */
export type SecondFactor = 'totp' | 'recovery'

export class AccountStore {
  private readonly path: string
  private readonly init: AccountStoreInit
  private data: AccountsData | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private readonly dummy: string

  constructor(init: AccountStoreInit) {
    this.init = init
    this.path = join(init.stateDir, ACCOUNTS_FILE)
    this.dummy = dummyHash(init.scrypt ?? SCRYPT_DEFAULT)
  }

  private now(): number {
    return this.init.now?.() ?? Date.now()
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return run
  }

  private async load(): Promise<AccountsData> {
    if (this.data != null) return this.data
    const text = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw err
    })
    this.data = text == null ? { version: 1, users: [], bootstrap: null } : (JSON.parse(text) as AccountsData)
    return this.data
  }

  private async save(d: AccountsData): Promise<void> {
    await this.init.writeFile(this.path, `${JSON.stringify(d, null, 2)}\n`, 0o600)
  }

  async hasAdmin(): Promise<boolean> {
    return (await this.load()).users.length > 0
  }

  async usernames(): Promise<string[]> {
    return (await this.load()).users.map((u) => u.username)
  }

  async totpEnabled(username: string): Promise<boolean> {
    return (await this.load()).users.find((u) => u.username === username)?.totp != null
  }

  /** A new one-time token (replacing any earlier one); only the hash is stored. */
  createBootstrapToken(): Promise<{ token: string; expiresAt: number }> {
    return this.serial(async () => {
      const d = await this.load()
      if (d.users.length > 0) throw new AlreadyBootstrappedError()
      const token = randomToken(24)
      const expiresAt = this.now() + BOOTSTRAP_TTL_MS
      d.bootstrap = { tokenHash: sha256(token), expiresAt }
      await this.save(d)
      return { token, expiresAt }
    })
  }

  /** Creates the first admin with a valid token; the token is spent. */
  bootstrap(token: string, username: string, password: string): Promise<void> {
    return this.serial(async () => {
      const d = await this.load()
      if (d.users.length > 0) throw new AlreadyBootstrappedError()
      const b = d.bootstrap
      if (b == null || b.expiresAt <= this.now() || !safeEqual(sha256(token), b.tokenHash))
        throw new BootstrapTokenError()
      checkCredentials(username, password)
      const hash = await hashPassword(password, this.init.scrypt)
      d.users.push({ username, password: hash, createdAt: this.now(), totp: null, pendingTotp: null })
      d.bootstrap = null
      await this.save(d)
    })
  }

  /**
   * True when the password is the user's. An unknown user is checked against a dummy hash of the
   * same cost, so the answer takes as long either way.
   */
  async checkPassword(username: string, password: string): Promise<boolean> {
    const user = (await this.load()).users.find((u) => u.username === username)
    const ok = await verifyPassword(password, user?.password ?? this.dummy)
    return ok && user != null
  }

  /** Checks a TOTP or recovery code of a user with TOTP on; a recovery code is spent. */
  proveSecondFactor(username: string, code: string): Promise<SecondFactor | null> {
    return this.serial(async () => {
      const d = await this.load()
      const t = d.users.find((u) => u.username === username)?.totp
      if (t == null) return null
      const step = checkTotp(t.secret, code.trim(), t.lastStep, this.now())
      if (step != null) {
        t.lastStep = step
        await this.save(d)
        return 'totp'
      }
      const h = sha256(normalizeRecoveryCode(code))
      const i = t.recovery.findIndex((r) => safeEqual(r, h))
      if (i < 0) return null
      t.recovery.splice(i, 1)
      await this.save(d)
      return 'recovery'
    })
  }

  /** Starts TOTP enrolment: the secret, its URI and 10 recovery codes (shown once, stored hashed). */
  beginTotp(username: string): Promise<{ secret: string; uri: string; recoveryCodes: string[] }> {
    return this.serial(async () => {
      const user = await this.user(username)
      if (user.totp != null) throw new TotpStateError(`TOTP is on for ${username} already: disable it first`)
      const { secret, uri } = newTotp(username)
      const recoveryCodes = Array.from({ length: RECOVERY_CODES }, recoveryCode)
      user.pendingTotp = {
        secret,
        lastStep: null,
        recovery: recoveryCodes.map((c) => sha256(normalizeRecoveryCode(c))),
        expiresAt: this.now() + TOTP_PENDING_TTL_MS,
      }
      await this.save(await this.load())
      return { secret, uri, recoveryCodes }
    })
  }

  /** Turns TOTP on once the first code from the app matches (proves the app has the secret). */
  confirmTotp(username: string, code: string): Promise<void> {
    return this.serial(async () => {
      const user = await this.user(username)
      const p = user.pendingTotp
      if (p == null || p.expiresAt <= this.now())
        throw new TotpStateError('no TOTP enrolment waiting: run `meshlan admin totp enable` again')
      const step = checkTotp(p.secret, code.trim(), null, this.now())
      if (step == null) throw new TotpWrongError()
      user.totp = { secret: p.secret, lastStep: step, recovery: p.recovery, enabledAt: this.now() }
      user.pendingTotp = null
      await this.save(await this.load())
    })
  }

  /** Turns TOTP off; needs a current code or a recovery code. */
  async disableTotp(username: string, code: string): Promise<SecondFactor> {
    const user = await this.user(username)
    if (user.totp == null) throw new TotpStateError(`TOTP is not on for ${username}`)
    const how = await this.proveSecondFactor(username, code)
    if (how == null) throw new TotpWrongError()
    return this.serial(async () => {
      user.totp = null
      await this.save(await this.load())
      return how
    })
  }

  /** A new password, once the current one is proved; false (nothing changed) when it is wrong. */
  async changePassword(username: string, current: string, next: string): Promise<boolean> {
    if (!(await this.checkPassword(username, current))) return false
    checkCredentials(username, next)
    const hash = await hashPassword(next, this.init.scrypt)
    return this.serial(async () => {
      const user = await this.user(username)
      user.password = hash
      await this.save(await this.load())
      return true
    })
  }

  /** Ten new recovery codes (shown once) replace the unused ones; TOTP must be on. */
  regenerateRecoveryCodes(username: string): Promise<string[]> {
    return this.serial(async () => {
      const user = await this.user(username)
      if (user.totp == null) throw new TotpStateError(`TOTP is not on for ${username}: enable it first`)
      const codes = Array.from({ length: RECOVERY_CODES }, recoveryCode)
      user.totp.recovery = codes.map((c) => sha256(normalizeRecoveryCode(c)))
      await this.save(await this.load())
      return codes
    })
  }

  /** Unused recovery codes left (0 with TOTP off). */
  async recoveryCodesLeft(username: string): Promise<number> {
    return (await this.load()).users.find((u) => u.username === username)?.totp?.recovery.length ?? 0
  }

  private async user(username: string): Promise<StoredUser> {
    const u = (await this.load()).users.find((x) => x.username === username)
    if (u == null) throw new UnknownAdminError(username)
    return u
  }
}

function checkCredentials(username: unknown, password: unknown): void {
  if (typeof username !== 'string' || !USERNAME_RE.test(username))
    throw new BadRequestError(
      'username: 1-32 lowercase letters, digits, . _ or -, starting with a letter or digit',
    )
  if (
    typeof password !== 'string' ||
    password.length < MIN_PASSWORD_LENGTH ||
    password.length > MAX_PASSWORD_LENGTH
  )
    throw new BadRequestError(
      `password: ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters (a passphrase of a few words is good)`,
    )
}
