/**
 * Login sessions, in memory: a restart logs everyone out, which is the safe direction (no session
 * secret on disk). The cookie carries a random id; the map is keyed by its SHA-256, so even a heap
 * dump shows no usable cookie. Bounded: MAX_SESSIONS, the oldest evicted first.
 */
import { MAX_SESSIONS, SESSION_IDLE_MS, SESSION_MAX_MS } from './constants.ts'
import { randomToken, sha256 } from './secrets.ts'

export interface Session {
  username: string
  /** Sent back in X-CSRF-Token on every state-changing call. */
  csrf: string
  createdAt: number
  lastSeen: number
  /** When the session last proved a TOTP code (null: never). */
  totpAt: number | null
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>()
  private readonly now: () => number

  constructor(now: () => number = Date.now) {
    this.now = now
  }

  get size(): number {
    return this.sessions.size
  }

  /** A new session; returns the cookie value (shown once, never stored). */
  create(username: string, totpProved: boolean): { id: string; session: Session } {
    const now = this.now()
    this.prune(now)
    while (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value
      if (oldest == null) break
      this.sessions.delete(oldest)
    }
    const id = randomToken(32)
    const session: Session = {
      username,
      csrf: randomToken(24),
      createdAt: now,
      lastSeen: now,
      totpAt: totpProved ? now : null,
    }
    this.sessions.set(sha256(id), session)
    return { id, session }
  }

  /** The live session for a cookie value, its idle clock reset; null when none or expired. */
  get(id: string | null): Session | null {
    if (id == null || id === '') return null
    const key = sha256(id)
    const s = this.sessions.get(key)
    if (s == null) return null
    const now = this.now()
    if (expired(s, now)) {
      this.sessions.delete(key)
      return null
    }
    s.lastSeen = now
    return s
  }

  /** Whether the session still lives, without resetting its idle clock (a live stream is not activity). */
  alive(s: Session): boolean {
    return [...this.sessions.values()].includes(s) && !expired(s, this.now())
  }

  delete(id: string | null): void {
    if (id != null) this.sessions.delete(sha256(id))
  }

  /** Ends every session of `username` but `keep` (the one that changed the password or TOTP). */
  deleteUserExcept(username: string, keep: Session): void {
    for (const [k, s] of this.sessions) if (s.username === username && s !== keep) this.sessions.delete(k)
  }

  /** Ends every session of a user (TOTP turned on or off changes what a session proved). */

  deleteUser(username: string): void {
    for (const [k, s] of this.sessions) if (s.username === username) this.sessions.delete(k)
  }

  /** Seconds a new cookie lives (its Max-Age): the absolute limit. */
  static maxAgeSeconds(): number {
    return Math.floor(SESSION_MAX_MS / 1000)
  }

  private prune(now: number): void {
    for (const [k, s] of this.sessions) if (expired(s, now)) this.sessions.delete(k)
  }
}

function expired(s: Session, now: number): boolean {
  return now - s.lastSeen > SESSION_IDLE_MS || now - s.createdAt > SESSION_MAX_MS
}
