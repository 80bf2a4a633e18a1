/**
 * What every endpoint shares: the daemon's parts (AdminDeps), the guards (lockout, session, CSRF,
 * TOTP freshness) and the audit trail. Endpoints (auth-routes.ts, admin-routes.ts) are plain
 * functions of a RequestContext.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { AccountStore, SecondFactor } from './accounts.ts'
import { CSRF_HEADER, SESSION_COOKIE, TOTP_FRESH_MS, TOTP_HEADER } from './constants.ts'
import { CsrfError, LockedOutError, NotLoggedInError, TotpRequiredError, TotpWrongError } from './errors.ts'
import { cookie, header } from './http.ts'
import { safeEqual } from './secrets.ts'
import type { Session, SessionStore } from './sessions.ts'
import type {
  AdminController,
  AdminLockouts,
  AdminLogger,
  AuditEvent,
  AuditSink,
  AuthFailureLog,
  OwnerLock,
} from './types.ts'

export interface AdminDeps {
  accounts: AccountStore
  sessions: SessionStore
  lockouts: AdminLockouts
  authLog: AuthFailureLog
  controller: AdminController
  /** The daemon's `info` and, with a node, its status. */
  status(): Promise<unknown>
  /** null: the owner key has no lock (part A not wired, or not the owner). */
  ownerLock: OwnerLock | null
  audit: AuditSink | null
  /** Entries of the audit log, newest last (null: no reader). */
  readAudit: ((q: { since: number | null; limit: number }) => Promise<unknown[]>) | null
  /** The audit chain's check (as `meshlan audit --verify`); null: no log. */
  verifyAudit: (() => Promise<unknown>) | null
  /** The built web admin (index.html and assets/); null: not built, `/` says how to build it. */
  webRoot: string | null
  log: AdminLogger
  now: () => number
}

/** Which guards an endpoint needs. `change`: session + CSRF + (TOTP on) a fresh code. */
export type Guard = 'none' | 'session' | 'change'

export interface RequestContext {
  req: IncomingMessage
  res: ServerResponse
  ip: string
  /** Set for 'session' and 'change' endpoints. */
  session: Session | null
  query: URLSearchParams
}

export type LockoutEvent = keyof AdminLockouts

export class Guards {
  readonly deps: AdminDeps

  constructor(deps: AdminDeps) {
    this.deps = deps
  }

  /** The lockout key (and log source) of an address. */
  static key(ip: string): string {
    return `ip:${ip}`
  }

  /** 429 while the address is locked out of `event`, whatever it sends. */
  async notLockedOut(ip: string, event: LockoutEvent): Promise<void> {
    const ms = await this.deps.lockouts[event].check(Guards.key(ip))
    if (ms > 0) throw new LockedOutError(ms)
  }

  /**
   * A failed login / bootstrap / unlock / code: counted on `event`'s lockout, logged as the stable
   * fail2ban line (with `logAs` as its event), audited.
   */
  async failed(
    ip: string,
    event: LockoutEvent,
    actor: string,
    why: string,
    logAs: string = event,
  ): Promise<void> {
    const source = Guards.key(ip)
    const r = await this.deps.lockouts[event].fail(source)
    this.deps.authLog(logAs, source, r)
    await this.audit({ event: logAs, actor, source, ok: false, detail: { why } })
    if (r.lockedOut)
      await this.audit({
        event: 'lockout',
        actor,
        source,
        ok: false,
        detail: { on: logAs, retryAfterS: Math.ceil(r.retryAfterMs / 1000) },
      })
  }

  /** The address proved the secret: its count on `event` is forgotten (other addresses' stay). */
  async succeeded(ip: string, event: LockoutEvent): Promise<void> {
    await this.deps.lockouts[event].succeed(Guards.key(ip))
  }

  /** The request's session, or 401. */
  session(req: IncomingMessage): Session {
    const s = this.deps.sessions.get(cookie(req, SESSION_COOKIE))
    if (s == null) throw new NotLoggedInError()
    return s
  }

  /** A state-changing call: the CSRF header must match the session's token. */
  csrf(req: IncomingMessage, s: Session): void {
    const t = header(req, CSRF_HEADER)
    if (t == null || !safeEqual(t, s.csrf)) throw new CsrfError()
  }

  /**
   * With TOTP on, a state-changing call needs a session that proved a code within TOTP_FRESH_MS,
   * or a code (or recovery code) in X-TOTP now. A wrong code counts as a failure of the address.
   */
  async freshTotp(req: IncomingMessage, ip: string, s: Session): Promise<void> {
    if (!(await this.deps.accounts.totpEnabled(s.username))) return
    const now = this.deps.now()
    if (s.totpAt != null && now - s.totpAt <= TOTP_FRESH_MS) return
    const code = header(req, TOTP_HEADER)
    if (code == null || code === '') throw new TotpRequiredError()
    await this.notLockedOut(ip, 'login')
    const how = await this.deps.accounts.proveSecondFactor(s.username, code)
    if (how == null) {
      await this.failed(ip, 'login', s.username, 'wrong TOTP code', 'totp')
      throw new TotpWrongError()
    }
    s.totpAt = now
    await this.succeeded(ip, 'login')
    await this.proved(how, s.username, ip)
  }

  /** Audits a recovery code being spent (a TOTP code is routine). */
  async proved(how: SecondFactor, username: string, ip: string): Promise<void> {
    if (how === 'recovery')
      await this.audit({ event: 'totp.recovery', actor: username, source: Guards.key(ip), ok: true })
  }

  /** Appends to the audit log; a failing audit is logged, never turned into a failed request. */
  async audit(e: AuditEvent): Promise<void> {
    try {
      await this.deps.audit?.append(e)
    } catch (err) {
      this.deps.log.warn('admin: audit append failed', { event: e.event, error: (err as Error).message })
    }
  }
}

/** True when the request came over TLS (the session cookie is then Secure). */
export function overTls(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true
}
