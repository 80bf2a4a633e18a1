/**
 * The audit log's interface: one security-relevant action per event. The daemon's file-backed
 * sink (audit-log.ts) chains every line to the previous one by SHA-256; the admin API (part B of
 * issue 11) appends its own events (logins, bootstrap, TOTP) through the same interface.
 *
 * Never put a secret in an event: no passphrase, password, token, TOTP code or join string.
 */

export interface AuditEvent {
  /** What happened, e.g. `unlock`, `key.create`, `acl.set`, `login`. */
  event: string
  /** Who: `uid:1000` on the control socket, the admin user name on the admin API. */
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

/** A sink that drops everything (tests, a controller run without a daemon's state). */
export const NULL_AUDIT: AuditSink = { append: async () => {} }
