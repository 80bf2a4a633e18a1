/**
 * @meshlan/admin — the daemon's admin API (docs/admin-api.md): bootstrap of the first account,
 * password login with sessions and CSRF tokens, per-IP lockout (part A's Lockout, fail2ban-ready
 * log lines), TOTP with one-time recovery codes, and the network's admin actions through the
 * daemon's Controller.
 *
 * The daemon creates one `AdminService` and hands in its parts (see types.ts for why they are
 * injected rather than imported).
 */
export { AccountStore, type AccountStoreInit, type SecondFactor } from './accounts.ts'
export { AdminService, type AdminServiceInit } from './admin.ts'
export * from './constants.ts'
export type { AdminDeps } from './context.ts'
export * from './errors.ts'
export { type AdminListen, adminBind, parseAdminListen } from './listen.ts'
export { dummyHash, hashPassword, SCRYPT_DEFAULT, type ScryptParams, verifyPassword } from './passwords.ts'
export { createHandler, type RequestHandler } from './router.ts'
export { AdminListeners, type AdminListenSettings } from './server.ts'
export { type Session, SessionStore } from './sessions.ts'
export { checkTotp, newTotp, type TotpEnrolment, totpCode } from './totp.ts'
export type {
  AdminController,
  AdminLockouts,
  AdminLogger,
  AuditEvent,
  AuditSink,
  AuthFailureLog,
  FailResult,
  Lockout,
  LockoutEntry,
  LogFields,
  OwnerLock,
  WriteFile,
} from './types.ts'
export { CONTENT_SECURITY_POLICY } from './web.ts'
