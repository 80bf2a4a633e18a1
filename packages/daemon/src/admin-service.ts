/**
 * The daemon's side of the admin API (@meshlan/admin): builds the AdminService from the daemon's
 * parts — its Controller, one Lockout per counted event (files in the state directory, so counts
 * survive restarts), the stable fail2ban log lines, writeFileAtomic — and answers the control
 * socket's `admin*` methods (`meshlan admin bootstrap`, `meshlan admin totp ...`).
 */
import { join } from 'node:path'
import { AdminError, AdminService, type AuditSink, type OwnerLock } from '@meshlan/admin'
import type { Logger } from '@meshlan/mesh'
import type { ApiParams } from './api.ts'
import type { CallContext, Controller } from './controller.ts'
import { InvalidArgumentError } from './errors.ts'
import { Lockout, logAuthFailure } from './lockout.ts'
import { type StateDir, writeFileAtomic } from './state.ts'
import { type GuardInit, guardPassphrase } from './unlock.ts'
import { findWebRoot } from './web-root.ts'

export interface AdminParts {
  state: StateDir
  controller: Controller
  status: () => Promise<unknown>
  /** The owner key's lock, when this node has one (read per request: it appears with a network). */
  ownerLock: () => OwnerLock | null
  audit: AuditSink | null
  readAudit: ((q: { since: number | null; limit: number }) => Promise<unknown[]>) | null
  verifyAudit: (() => Promise<unknown>) | null
  log: Logger
}

export function createAdminService(p: AdminParts): AdminService {
  // own files: the control socket's unlock lockout (uid:N sources) has its own instance and file
  const lockout = (event: string) => new Lockout({ file: join(p.state.dir, `lockout-admin-${event}.json`) })
  const lock = p.ownerLock
  return new AdminService({
    stateDir: p.state.dir,
    writeFile: writeFileAtomic,
    lockouts: { login: lockout('login'), bootstrap: lockout('bootstrap'), unlock: lockout('unlock') },
    authLog: (event, source, r) => logAuthFailure(p.log, event, source, r),
    controller: p.controller,
    status: p.status,
    ownerLock: {
      get protected() {
        return lock()?.protected ?? false
      },
      get locked() {
        return lock()?.locked ?? false
      },
      unlock: async (passphrase) => lock()?.unlock(passphrase),
      lock: () => lock()?.lock(),
    },
    audit: p.audit,
    readAudit: p.readAudit,
    verifyAudit: p.verifyAudit,
    webRoot: findWebRoot(),
    log: p.log,
  })
}

/** Control socket methods of the admin API (root or meshlan-admin on this box). */
export const ADMIN_CONTROL_METHODS = [
  'adminBootstrap',
  'adminTotpBegin',
  'adminTotpConfirm',
  'adminTotpDisable',
]

/** `actor`: who asked on the socket (`uid:N`), for the audit log. */
export function adminControl(
  admin: AdminService,
  method: string,
  params: Record<string, unknown>,
  actor: string,
): Promise<unknown> {
  switch (method) {
    case 'adminBootstrap':
      return admin.bootstrapToken(actor)
    case 'adminTotpBegin':
      return admin.totpBegin(params as ApiParams<'adminTotpBegin'>)
    case 'adminTotpConfirm':
      return admin.totpConfirm(params as ApiParams<'adminTotpConfirm'>, actor)
    case 'adminTotpDisable':
      return admin.totpDisable(params as ApiParams<'adminTotpDisable'>, actor)
    default:
      throw new InvalidArgumentError(`unknown admin method ${JSON.stringify(method)}`)
  }
}

/**
 * Owner actions on the control socket that need the CLI's TOTP code (`--otp`) once an admin account
 * has TOTP on (issue 11): the same actions the API guards as changes. Reading (status, lists, audit)
 * and `lock` never do.
 */
export const OTP_METHODS: ReadonlySet<string> = new Set([
  'networkProtect',
  'networkBackup',
  'networkPhrase',
  'networkRestore',
  'keyCreate',
  'keyRevoke',
  'aclSet',
  'nodeRevoke',
  'routeApprove',
  'routeRevoke',
  'delegateSet',
  'unlock',
])

/** A wrong code counts toward the per-uid lockout; a missing one does not (it is not a guess). */
export const TOTP_GUESS = {
  isWrong: (err: unknown) => err instanceof AdminError && err.code === 'ERR_TOTP_WRONG',
  reason: 'wrong TOTP code',
}

/**
 * Checks the `otp` (and `otpUser`) parameters of an owner action and returns the parameters without
 * them. `guard` is the control socket's TOTP lockout (CLI_TOTP_LOCKOUT_FILE). The CLI run offline,
 * on the state files, is not asked: whoever can read those files as root holds them anyway.
 */
export async function proveCliOtp(
  admin: AdminService | null,
  guard: GuardInit,
  method: string,
  params: Record<string, unknown>,
  ctx: CallContext,
): Promise<Record<string, unknown>> {
  const { otp, otpUser, ...rest } = params
  if (!OTP_METHODS.has(method)) return rest
  if (admin == null) throw new InvalidArgumentError('the daemon is still starting: try again in a moment')
  await guardPassphrase(guard, 'totp', ctx, () => admin.proveCliCode(otp, otpUser, ctx.actor), TOTP_GUESS)
  return rest
}
