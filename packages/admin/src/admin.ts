/**
 * AdminService: what the daemon holds — the accounts, the sessions, the HTTP listeners, and the
 * operations the CLI reaches over the control socket (`meshlan admin bootstrap`, `totp ...`),
 * which run as root on the box and so need no password.
 */
import { AccountStore } from './accounts.ts'
import type { AdminDeps } from './context.ts'
import { CliTotpRequiredError, TotpStateError, TotpWrongError } from './errors.ts'
import type { ScryptParams } from './passwords.ts'
import { createHandler, type RequestHandler } from './router.ts'
import { AdminListeners, type AdminListenSettings } from './server.ts'
import { SessionStore } from './sessions.ts'
import type {
  AdminController,
  AdminLockouts,
  AdminLogger,
  AuditSink,
  AuthFailureLog,
  OwnerLock,
  WriteFile,
} from './types.ts'

export interface AdminServiceInit {
  stateDir: string
  writeFile: WriteFile
  lockouts: AdminLockouts
  /** part A's logAuthFailure bound to the daemon's logger. */
  authLog: AuthFailureLog
  controller: AdminController
  status: () => Promise<unknown>
  ownerLock?: OwnerLock | null
  audit?: AuditSink | null
  readAudit?: AdminDeps['readAudit']
  verifyAudit?: AdminDeps['verifyAudit']
  /** The built web admin's directory (packages/web), or null. */
  webRoot?: string | null
  log: AdminLogger
  /** Lower scrypt cost (tests only). */
  scrypt?: ScryptParams
  now?: () => number
}

export class AdminService {
  readonly accounts: AccountStore
  readonly sessions: SessionStore
  readonly handler: RequestHandler
  private readonly listeners: AdminListeners
  private readonly init: AdminServiceInit

  constructor(init: AdminServiceInit) {
    this.init = init
    const now = init.now ?? Date.now
    this.accounts = new AccountStore({
      stateDir: init.stateDir,
      writeFile: init.writeFile,
      scrypt: init.scrypt,
      now,
    })
    this.sessions = new SessionStore(now)
    this.handler = createHandler({
      accounts: this.accounts,
      sessions: this.sessions,
      lockouts: init.lockouts,
      authLog: init.authLog,
      controller: init.controller,
      status: init.status,
      ownerLock: init.ownerLock ?? null,
      audit: init.audit ?? null,
      readAudit: init.readAudit ?? null,
      verifyAudit: init.verifyAudit ?? null,
      webRoot: init.webRoot ?? null,
      log: init.log,
      now,
    })
    this.listeners = new AdminListeners(this.handler, init.log)
  }

  /** (Re)binds the listeners: at start, on the overlay address, on reload. */
  apply(settings: AdminListenSettings, overlayIp: string | null): Promise<void> {
    return this.listeners.apply(settings, overlayIp)
  }

  addresses(): Array<{ host: string; port: number }> {
    return this.listeners.addresses()
  }

  stop(): Promise<void> {
    return this.listeners.stop()
  }

  // ---- control socket (root on the box) ---------------------------------------------------------

  /** `meshlan admin bootstrap`: a one-time token for POST /api/bootstrap, valid 1 h. */
  async bootstrapToken(actor: string): Promise<{ token: string; expiresAt: number }> {
    const r = await this.accounts.createBootstrapToken()
    await this.audit('bootstrap.token', actor, true)
    return r
  }

  /** `meshlan admin totp enable`, step 1: secret, URI and recovery codes (pending until confirmed). */
  async totpBegin(p: { username?: string | null }): Promise<{
    username: string
    secret: string
    uri: string
    recoveryCodes: string[]
  }> {
    const username = await this.pick(p.username)
    return { username, ...(await this.accounts.beginTotp(username)) }
  }

  /** Step 2: the first code from the app turns TOTP on; existing sessions must log in again. */
  async totpConfirm(
    p: { username?: string | null; code: string },
    actor: string,
  ): Promise<{ username: string }> {
    const username = await this.pick(p.username)
    await this.accounts.confirmTotp(username, String(p.code ?? ''))
    this.sessions.deleteUser(username)
    await this.audit('totp.enable', actor, true, { user: username })
    return { username }
  }

  /** `meshlan admin totp disable`: needs a current code or a recovery code. */
  async totpDisable(
    p: { username?: string | null; code: string },
    actor: string,
  ): Promise<{ username: string }> {
    const username = await this.pick(p.username)
    try {
      const how = await this.accounts.disableTotp(username, String(p.code ?? ''))
      if (how === 'recovery') await this.audit('totp.recovery', actor, true, { user: username })
    } catch (err) {
      await this.audit('totp.disable', actor, false, { user: username, error: (err as Error).message })
      throw err
    }
    await this.audit('totp.disable', actor, true, { user: username })
    return { username }
  }

  /**
   * The CLI's second factor: once an admin account has TOTP on, owner actions on the control socket
   * need a current code (or a recovery code, once) of such an account (`--otp`, and `--otp-user`
   * when several have it on; otherwise the code is tried against each). Resolves when none is
   * needed or the code is right; CliTotpRequiredError when it is missing, TotpWrongError when wrong.
   */
  async proveCliCode(code: unknown, username: unknown, actor: string): Promise<void> {
    const enrolled: string[] = []
    for (const u of await this.accounts.usernames()) if (await this.accounts.totpEnabled(u)) enrolled.push(u)
    if (enrolled.length === 0) return
    if (typeof code !== 'string' || code.trim() === '') throw new CliTotpRequiredError(enrolled)
    const named = typeof username === 'string' && username !== ''
    for (const u of named ? enrolled.filter((e) => e === username) : enrolled) {
      const how = await this.accounts.proveSecondFactor(u, code)
      if (how === 'recovery') await this.audit('totp.recovery', actor, true, { user: u })
      if (how != null) return
    }
    throw new TotpWrongError()
  }

  /** The account a CLI command means: the one named, else the only one. */
  private async pick(username: string | null | undefined): Promise<string> {
    if (username != null && username !== '') return username
    const all = await this.accounts.usernames()
    if (all.length === 1) return all[0]
    throw new TotpStateError(
      all.length === 0
        ? 'no admin account yet: run `meshlan admin bootstrap` and create one'
        : `several admin accounts (${all.join(', ')}): name one with --user`,
    )
  }

  private async audit(
    event: string,
    actor: string,
    ok: boolean,
    detail?: Record<string, string | number | boolean | null>,
  ): Promise<void> {
    try {
      await this.init.audit?.append({
        event,
        actor,
        source: actor,
        ok,
        ...(detail ? { detail } : {}),
      })
    } catch (err) {
      this.init.log.warn('admin: audit append failed', { event, error: (err as Error).message })
    }
  }
}
