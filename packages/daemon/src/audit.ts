/**
 * The audit log's interface: one security-relevant action per event. The daemon's file-backed
 * sink (audit-log.ts) chains every line to the previous one by SHA-256; the admin API (part B of
 * issue 11) appends its own events (logins, bootstrap, TOTP) through the same interface.
 *
 * Never put a secret in an event: no passphrase, password, token, TOTP code or join string.
 */

// one definition, in the admin package (which cannot import the daemon): its comments say what
// each field holds
import type { AuditSink } from '@meshlan/admin'

export type { AuditEvent, AuditSink } from '@meshlan/admin'

/** A sink that drops everything (tests, a controller run without a daemon's state). */
export const NULL_AUDIT: AuditSink = { append: async () => {} }
