/**
 * Per-peer back-off tables, bounded (the oldest entry goes first when full). Only members reach
 * them, but a bound keeps that true even if a caller forgets to check.
 */
import { MAX_BACKOFF_ENTRIES, PUNCH_RETRY_BASE_MS, PUNCH_RETRY_MAX_MS } from './constants.ts'

function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) {
    const oldest = map.keys().next().value
    if (oldest === undefined) break
    map.delete(oldest)
  }
}

/** The responder's rule: one punch per peer per window; a peer that asks again sooner is refused. */
export class PeerWindow {
  private readonly windowMs: number
  private readonly max: number
  private readonly last = new Map<string, number>()

  constructor(windowMs: number, max = MAX_BACKOFF_ENTRIES) {
    this.windowMs = windowMs
    this.max = max
  }

  /** True (and the peer's window restarts) when the peer may go now; false when it must wait. */
  admit(peerId: string, now: number): boolean {
    const t = this.last.get(peerId)
    if (t != null && now - t < this.windowMs) return false
    touch(this.last, peerId, now, this.max)
    return true
  }

  get size(): number {
    return this.last.size
  }
}

/** The initiator's retry schedule after failed punches: 10 s, 20 s, 40 s … up to 5 min. */
export class RetryBackoff {
  private readonly max: number
  private readonly state = new Map<string, { attempts: number; next: number }>()

  constructor(max = MAX_BACKOFF_ENTRIES) {
    this.max = max
  }

  /** Records a failure; returns the delay before the next attempt. */
  fail(peerId: string, now: number): number {
    const attempts = (this.state.get(peerId)?.attempts ?? 0) + 1
    const delay = Math.min(PUNCH_RETRY_MAX_MS, PUNCH_RETRY_BASE_MS * 2 ** (attempts - 1))
    touch(this.state, peerId, { attempts, next: now + delay }, this.max)
    return delay
  }

  succeed(peerId: string): void {
    this.state.delete(peerId)
  }

  /** True while the peer's next attempt is not due yet. */
  waiting(peerId: string, now: number): boolean {
    const s = this.state.get(peerId)
    return s != null && now < s.next
  }
}
