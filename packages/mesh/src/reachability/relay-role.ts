/**
 * Whether this node serves as a member relay, and why (`relay` in config.toml):
 * - `true`: always (a relay someone chose); `false`: never (opted out);
 * - `"auto"` (the daemon's default): once a member outside our network dialled us back on an
 *   address we announce (dialback.ts), for RELAY_CONFIRM_TTL_MS after the last confirmation, and
 *   not after RELAY_FAILS_TO_STOP failed dial-backs in a row. A network whose only public member
 *   kept the defaults thus has a relay as soon as one NATed member is connected to it.
 * Pure state with the clock passed in; the reachability service asks and reports.
 */
import {
  DIALBACK_RESPONDER_WINDOW_MS,
  RELAY_CONFIRM_IDLE_MS,
  RELAY_CONFIRM_RETRY_MS,
  RELAY_CONFIRM_TTL_MS,
  RELAY_FAILS_TO_STOP,
  RELAY_RECONFIRM_MS,
} from './constants.ts'

/** `relay` as configured: true (force), false (opt out), or "auto". */
export type RelayMode = boolean | 'auto'

export interface RelayStatus {
  /** This node relays for members now (its record says so). */
  serving: boolean
  mode: 'auto' | 'on' | 'off'
  /** Why, in a sentence (`meshlan netcheck`). */
  reason: string
  /** The last successful dial-back: who and at which address, when (ms since epoch). */
  confirmed: { by: string; addr: string; at: number } | null
}

export class RelayRole {
  mode: RelayMode
  private confirmed: { by: string; addr: string; at: number } | null = null
  private fails = 0
  private lastFail: string | null = null
  private lastAsk = 0
  /** No round before this (nobody to ask last time) unless woken. */
  private quietUntil = 0
  private readonly asked = new Map<string, number>()

  constructor(mode: RelayMode) {
    this.mode = mode
  }

  /** A new mode (config reload): an earlier confirmation or failure count does not carry over. */
  setMode(mode: RelayMode): void {
    if (mode === this.mode) return
    this.mode = mode
    this.confirmed = null
    this.fails = 0
    this.lastFail = null
    this.lastAsk = 0
    this.quietUntil = 0
  }

  serving(now: number): boolean {
    if (this.mode !== 'auto') return this.mode
    return this.confirmed != null && now - this.confirmed.at < RELAY_CONFIRM_TTL_MS
  }

  /** Whether to ask a member now (auto only): soon while unconfirmed, now and then once serving. */
  due(now: number): boolean {
    if (this.mode !== 'auto' || now < this.quietUntil) return false
    const every = this.serving(now) ? RELAY_RECONFIRM_MS : RELAY_CONFIRM_RETRY_MS
    return now - this.lastAsk >= every
  }

  /**
   * When a round may next have something to do: due() turning true, or a confirmation running
   * out (serving flips). The service sleeps until then instead of asking every second (issue 14:
   * an idle public node woke each second for a check that said "not yet" 59 times a minute).
   */
  nextCheck(now: number): number {
    if (this.mode !== 'auto') return Number.POSITIVE_INFINITY
    const every = this.serving(now) ? RELAY_RECONFIRM_MS : RELAY_CONFIRM_RETRY_MS
    const ask = Math.max(this.quietUntil, this.lastAsk + every)
    const expires =
      this.confirmed != null ? this.confirmed.at + RELAY_CONFIRM_TTL_MS : Number.POSITIVE_INFINITY
    return Math.min(ask, expires)
  }

  /** A round found nobody to ask: skip rounds for RELAY_CONFIRM_IDLE_MS, or until wake(). */
  idle(now: number): void {
    this.quietUntil = now + RELAY_CONFIRM_IDLE_MS
  }

  /** Something changed that may give us someone to ask (a connection opened): rounds resume. */
  wake(): void {
    this.quietUntil = 0
  }

  /** Which of these members to ask: not asked within the responder's window, least recently first. */
  pick(members: string[], now: number): string | null {
    let best: string | null = null
    let bestAt = Number.POSITIVE_INFINITY
    for (const m of members) {
      const at = this.asked.get(m) ?? 0
      if (now - at < DIALBACK_RESPONDER_WINDOW_MS) continue
      if (at < bestAt) {
        best = m
        bestAt = at
      }
    }
    return best
  }

  asking(member: string, now: number): void {
    this.lastAsk = now
    this.asked.set(member, now)
    // bounded: only members we actually ask, and they come and go
    if (this.asked.size > 256) this.asked.delete(this.asked.keys().next().value as string)
  }

  /** A member outside dialled us back at `addr`. Returns whether `serving` changed. */
  confirm(by: string, addr: string, now: number): boolean {
    const was = this.serving(now)
    this.confirmed = { by, addr, at: now }
    this.fails = 0
    this.lastFail = null
    return was !== this.serving(now)
  }

  /** A member outside could not dial us back. Returns whether `serving` changed. */
  fail(by: string, why: string, now: number): boolean {
    const was = this.serving(now)
    this.fails++
    this.lastFail = `${by}: ${why}`
    if (this.fails >= RELAY_FAILS_TO_STOP) this.confirmed = null
    return was !== this.serving(now)
  }

  status(now: number, names: (peerId: string) => string = (p) => p): RelayStatus {
    const confirmed = this.confirmed
    if (this.mode === true)
      return { serving: true, mode: 'on', reason: 'relay = true in config.toml', confirmed }
    if (this.mode === false)
      return { serving: false, mode: 'off', reason: 'relay = false in config.toml (opted out)', confirmed }
    if (this.serving(now) && confirmed != null) {
      const ago = Math.round((now - confirmed.at) / 1000)
      return {
        serving: true,
        mode: 'auto',
        reason: `auto: reachable from outside (${names(confirmed.by)} dialled ${confirmed.addr} back ${ago} s ago)`,
        confirmed,
      }
    }
    const why =
      this.lastFail != null
        ? `a member outside could not dial us back (${this.lastFail})`
        : confirmed != null
          ? 'the last confirmation expired: nobody outside has dialled us back lately'
          : 'no member outside our network has dialled us back yet'
    return { serving: false, mode: 'auto', reason: `auto: not relaying: ${why}`, confirmed }
  }
}
