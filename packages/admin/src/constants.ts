/** Limits and lifetimes of the admin API, in one place (docs/admin-api.md lists them). */

/** The default `[admin] listen`: loopback only. */
export const DEFAULT_ADMIN_LISTEN: readonly string[] = ['127.0.0.1:7947']
/** Largest JSON body accepted (413 above): every request is small; this bounds memory per request. */
export const MAX_BODY_BYTES = 16 * 1024
/** Largest request header block (431 above; node:http's own limit, lowered from 16 KiB). */
export const MAX_HEADER_BYTES = 8 * 1024
/** Open connections at once: a Pi serves a handful of admins, not a crowd. */
export const MAX_CONNECTIONS = 64
/** Sessions kept at once; the oldest goes first when a new login needs room. */
export const MAX_SESSIONS = 32
/** A session ends after this long without a request ... */
export const SESSION_IDLE_MS = 30 * 60_000
/** ... and this long after login whatever happens. */
export const SESSION_MAX_MS = 12 * 3600_000
/** A TOTP code proved within this window lets state-changing calls go without a new one. */
export const TOTP_FRESH_MS = 5 * 60_000
/** `meshlan admin bootstrap` tokens are valid this long. */
export const BOOTSTRAP_TTL_MS = 3600_000
/** A confirmation of `totp enable` must arrive within this long. */
export const TOTP_PENDING_TTL_MS = 10 * 60_000
/** Recovery codes printed by `totp enable`. */
export const RECOVERY_CODES = 10
/** Password hashes computed at once; more wait (each takes SCRYPT memory). */
export const MAX_CONCURRENT_HASHES = 1
/** Requests waiting for a hash; beyond this the API answers 503 rather than queue without end. */
export const MAX_QUEUED_HASHES = 16
export const MIN_PASSWORD_LENGTH = 10
export const MAX_PASSWORD_LENGTH = 1024
export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{0,31}$/
export const SESSION_COOKIE = 'meshlan_session'
export const CSRF_HEADER = 'x-csrf-token'
export const TOTP_HEADER = 'x-totp'
/** The accounts file in the state directory. */
export const ACCOUNTS_FILE = 'admin.json'
/** Live views (server-sent events) at once: each holds a connection of MAX_CONNECTIONS and a timer. */
export const MAX_EVENT_STREAMS = 8
/** How often a live view looks for a change: a path change shows within a second. */
export const EVENTS_POLL_MS = 1000
/** A comment line this often keeps proxies from closing a quiet stream. */
export const EVENTS_KEEPALIVE_MS = 15_000
