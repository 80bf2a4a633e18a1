/**
 * Per-source brute-force lockout, shared by every place a secret is guessed: `meshlan unlock` on
 * the control socket (source `uid:N`) and, in the admin API, login, bootstrap and unlock (source
 * `ip:ADDR`). One instance per event, each with its own file, so a failed login never counts
 * against the same address's unlock and one source never affects another.
 *
 * Rule: `maxFailures` failures within `windowMs` lock the source out for `baseLockMs`; every
 * further failure before the source has been quiet for `forgetMs` locks it out again for twice as
 * long as the previous time (capped at `maxLockMs`). A success forgets that source only.
 *
 * The state is a small JSON file written with writeFileAtomic after each change, so restarting
 * the daemon never resets an attacker's count (a damaged file is treated as empty and replaced:
 * losing counts must not stop the daemon). Each decision writes one stable log line
 * (authFailureLine/authLockoutLine; docs/admin-security.md), which fail2ban filters match.
 */
import { readFile } from 'node:fs/promises'
import type { Logger } from '@meshlan/mesh'
import { DaemonError } from './errors.ts'
import { writeFileAtomic } from './state.ts'

export interface LockoutInit {
  /** Where the counts live across restarts (e.g. `<state>/lockout-unlock.json`). */
  file: string
  /** Failures within `windowMs` that lock a source out. @default 5 */
  maxFailures?: number
  /** @default 15 minutes */
  windowMs?: number
  /** The first lockout. @default 5 minutes */
  baseLockMs?: number
  /** The longest lockout. @default 24 hours */
  maxLockMs?: number
  /** Quiet time after which a source's lockout history is forgotten. @default 24 hours */
  forgetMs?: number
  /** @default Date.now */
  now?: () => number
}

interface SourceState {
  /** Failure times within the window (ms). */
  failures: number[]
  /** Lockouts so far (0: none): the next one lasts baseLockMs * 2^lockouts. */
  lockouts: number
  lockedUntil: number
  lastFailure: number
}

export interface FailResult {
  /** This failure locked the source out. */
  lockedOut: boolean
  /** How long the source must wait now (0: it may try again at once). */
  retryAfterMs: number
}

/** Most sources remembered: the oldest quiet ones go first, so a spray of addresses cannot grow the file without bound. */
const MAX_SOURCES = 10_000

export class Lockout {
  readonly file: string
  readonly maxFailures: number
  readonly windowMs: number
  private readonly baseLockMs: number
  private readonly maxLockMs: number
  private readonly forgetMs: number
  private readonly now: () => number
  private sources: Map<string, SourceState> | null = null
  private loading: Promise<Map<string, SourceState>> | null = null
  /** Writes in order: the file always ends up with the newest counts. */
  private writes: Promise<unknown> = Promise.resolve()

  constructor(init: LockoutInit) {
    this.file = init.file
    this.maxFailures = init.maxFailures ?? 5
    this.windowMs = init.windowMs ?? 15 * 60_000
    this.baseLockMs = init.baseLockMs ?? 5 * 60_000
    this.maxLockMs = init.maxLockMs ?? 24 * 3_600_000
    this.forgetMs = init.forgetMs ?? 24 * 3_600_000
    this.now = init.now ?? Date.now
  }

  /** 0 when `key` may try now, else how many ms until it may. */
  async check(key: string): Promise<number> {
    const s = (await this.load()).get(key)
    if (s == null) return 0
    return Math.max(0, s.lockedUntil - this.now())
  }

  /** Counts one failure of `key`; says whether it is locked out now and for how long. */
  async fail(key: string): Promise<FailResult> {
    const all = await this.load()
    const now = this.now()
    let s = all.get(key)
    if (s == null || now - s.lastFailure > this.forgetMs) {
      s = { failures: [], lockouts: 0, lockedUntil: 0, lastFailure: now }
    }
    all.delete(key) // re-inserted last: Map order is the eviction order (least recently failing first)
    all.set(key, s)
    s.lastFailure = now
    s.failures = s.failures.filter((t) => now - t < this.windowMs)
    s.failures.push(now)
    // after a first lockout one failure is enough: the back-off doubles each time
    const lockedOut = s.failures.length >= this.maxFailures || s.lockouts > 0
    if (lockedOut) {
      const ms = Math.min(this.baseLockMs * 2 ** s.lockouts, this.maxLockMs)
      s.lockouts++
      s.lockedUntil = now + ms
      s.failures = []
    }
    while (all.size > MAX_SOURCES) all.delete(all.keys().next().value as string)
    await this.save()
    return { lockedOut, retryAfterMs: Math.max(0, s.lockedUntil - now) }
  }

  /** `key` proved it knows the secret: its count is forgotten (other sources' are not). */
  async succeed(key: string): Promise<void> {
    const all = await this.load()
    if (all.delete(key)) await this.save()
  }

  /** Sources with failures in the window or a lockout in force (the admin's security page). */
  async list(): Promise<Array<{ source: string; retryAfterMs: number; failures: number }>> {
    const now = this.now()
    const out: Array<{ source: string; retryAfterMs: number; failures: number }> = []
    for (const [source, s] of await this.load()) {
      const failures = s.failures.filter((t) => now - t < this.windowMs).length
      const retryAfterMs = Math.max(0, s.lockedUntil - now)
      if (failures > 0 || retryAfterMs > 0) out.push({ source, retryAfterMs, failures })
    }
    return out
  }

  private load(): Promise<Map<string, SourceState>> {
    if (this.sources != null) return Promise.resolve(this.sources)
    this.loading ??= readFile(this.file, 'utf8')
      .then((text) => parseState(text))
      .catch(() => new Map<string, SourceState>())
      .then((m) => {
        this.sources = m
        return m
      })
    return this.loading
  }

  private save(): Promise<void> {
    const text = JSON.stringify({ v: 1, sources: Object.fromEntries(this.sources ?? []) }) + '\n'
    const run = this.writes.then(() => writeFileAtomic(this.file, text, 0o600))
    this.writes = run.catch(() => {})
    return run
  }
}

function parseState(text: string): Map<string, SourceState> {
  const out = new Map<string, SourceState>()
  const json = JSON.parse(text) as { v?: unknown; sources?: Record<string, Partial<SourceState>> }
  if (json.v !== 1 || typeof json.sources !== 'object' || json.sources == null) return out
  for (const [k, s] of Object.entries(json.sources)) {
    if (!Array.isArray(s.failures)) continue
    out.set(k, {
      failures: s.failures.filter((t) => typeof t === 'number'),
      lockouts: typeof s.lockouts === 'number' ? s.lockouts : 0,
      lockedUntil: typeof s.lockedUntil === 'number' ? s.lockedUntil : 0,
      lastFailure: typeof s.lastFailure === 'number' ? s.lastFailure : 0,
    })
  }
  return out
}

/** A source still locked out: even the right secret is not tried until `retryAfterMs` has passed. */
export class LockedOutError extends DaemonError {
  readonly retryAfterMs: number
  constructor(event: string, retryAfterMs: number) {
    const s = Math.max(1, Math.ceil(retryAfterMs / 1000))
    super(
      'ERR_LOCKED_OUT',
      `too many failed ${event} attempts from here: try again in ${s} s (Retry-After: ${s})`,
    )
    this.name = 'LockedOutError'
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * The stable log lines fail2ban filters match (docs/admin-security.md; do not change their shape):
 *   meshlan auth failure: event=EVENT source=SOURCE
 *   meshlan auth lockout: event=EVENT source=SOURCE retry_after=SECONDS
 * SOURCE is `uid:N` (control socket) or `ip:ADDR` (admin API).
 */
export function logAuthFailure(log: Logger, event: string, source: string, r: FailResult): void {
  log.warn(`meshlan auth failure: event=${event} source=${source}`)
  if (r.lockedOut) {
    log.warn(
      `meshlan auth lockout: event=${event} source=${source} retry_after=${Math.ceil(r.retryAfterMs / 1000)}`,
    )
  }
}

/** The control socket's unlock lockout, in the state directory (sources `uid:N`). */
export const UNLOCK_LOCKOUT_FILE = 'lockout-unlock.json'
/** Wrong TOTP codes given to owner actions on the control socket (`--otp`), per uid. */
export const CLI_TOTP_LOCKOUT_FILE = 'lockout-cli-totp.json'
