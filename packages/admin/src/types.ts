/**
 * What the admin API needs from the daemon, as structural interfaces. The daemon depends on this
 * package (it starts the server), so this package cannot import @meshlan/daemon without a
 * dependency cycle: the daemon hands in its Controller, part A's Lockout / OwnerLock / AuditSink
 * and writeFileAtomic, and the compiler checks at that call that they fit these shapes.
 */

/**
 * One security-relevant action (the daemon's audit-log.ts writes it, hash-chained). Never a
 * secret in it: no passphrase, password, token, TOTP code or join string.
 */
export interface AuditEvent {
  /** What happened, e.g. `unlock`, `key.create`, `acl.set`, `login`. */
  event: string
  /** Who: `uid:1000` on the control socket, the admin user name (or `-`) on the admin API. */
  actor: string
  /** From where: `uid:1000` (control socket), `ip:203.0.113.5` (admin API). */
  source: string
  /** Whether it succeeded. @default true */
  ok?: boolean
  /** Event-specific facts (names, versions, diffs as text): never a secret. */
  detail?: Record<string, string | number | boolean | null>
}

export interface AuditSink {
  append(e: AuditEvent): Promise<void>
}

/** The owner key's passphrase lock (part A's owner-lock.ts). */
export interface OwnerLock {
  readonly protected: boolean
  readonly locked: boolean
  /** Rejects (WrongPassphraseError) on a wrong passphrase. */
  unlock(passphrase: string): Promise<void>
  lock(): void
}

/** What one failure did (part A's FailResult). */
export interface FailResult {
  lockedOut: boolean
  retryAfterMs: number
}

/**
 * Per-source failure counting with back-off (part A's lockout.ts): one instance per event, its
 * state in a file, so it survives restarts.
 */
export interface Lockout {
  /** ms until `key` may try again; 0 when it may now. */
  check(key: string): Promise<number>
  fail(key: string): Promise<FailResult>
  succeed(key: string): Promise<void>
  /** Sources that failed recently or are locked out now (for the security page). */
  list?(): Promise<LockoutEntry[]>
}

/** One source a Lockout remembers. */
export interface LockoutEntry {
  source: string
  /** ms until it may try again (0: not locked out, only counted). */
  retryAfterMs: number
  /** Failures within the window. */
  failures: number
}

/** The events the admin API counts, each with its own Lockout (a wrong TOTP code counts as a login). */
export interface AdminLockouts {
  login: Lockout
  bootstrap: Lockout
  unlock: Lockout
}

/**
 * Writes the stable fail2ban lines for one failure (part A's logAuthFailure, bound to the daemon's
 * logger): `meshlan auth failure: event=E source=S`, and `... lockout ...` when it locked out.
 */
export type AuthFailureLog = (event: string, source: string, r: FailResult) => void

/** Who asked, for the audit log the Controller writes (part A): the admin user and `ip:ADDR`. */
export interface CallContext {
  actor: string
  source: string
}

/**
 * The daemon Controller methods the API calls (their parameters as the control API has them).
 * The Controller audits each action itself, with the CallContext it is given.
 */
export interface AdminController {
  keyList(p: Record<string, never>, ctx?: CallContext): Promise<unknown>
  keyCreate(
    p: {
      name: string
      aclText?: string | null
      allowAll?: boolean
      expiresAt?: number | null
      memberExpiresAt?: number | null
      reusable?: boolean
      maxMembers?: number | null
      tags?: string[] | null
    },
    ctx?: CallContext,
  ): Promise<unknown>
  keyRevoke(p: { name: string }, ctx?: CallContext): Promise<unknown>
  aclShow(p: { key?: string | null }, ctx?: CallContext): Promise<unknown>
  aclSet(p: { key: string; aclText: string }, ctx?: CallContext): Promise<unknown>
  routeList(p: Record<string, never>, ctx?: CallContext): Promise<unknown>
  routeApprove(p: { node: string; route: string }, ctx?: CallContext): Promise<unknown>
  routeRevoke(p: { node: string; route: string }, ctx?: CallContext): Promise<unknown>
  nodeRevoke(p: { target: string; withKey?: boolean }, ctx?: CallContext): Promise<unknown>
}

export type LogFields = Record<string, string | number | boolean | null | undefined>

export interface AdminLogger {
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

/** Crash-safe write (the daemon's writeFileAtomic: temp file, fsync, rename). */
export type WriteFile = (path: string, data: string, mode?: number) => Promise<void>
