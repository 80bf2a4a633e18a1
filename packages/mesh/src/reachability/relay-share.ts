/**
 * How a member relay splits what it forwards among members: pure arithmetic, the clock passed in
 * (relay-governor.ts applies it to streams).
 *
 * - **Budget** per tick: `[nat] relay_rate_mbit` when set; otherwise unlimited while the relay is
 *   idle enough, and, while it is busy (its CPU saturated) and its own tunnel carries traffic,
 *   RELAY_BUSY_BACKOFF of what members got in the last tick, so the relay's own traffic keeps the
 *   rest; busy without traffic of its own, what they got grown by RELAY_IDLE_GROWTH (fair shares,
 *   nobody held back for nothing).
 * - **Shares**: max-min fair (water-filling) over the members' demands: a member that was held
 *   back wants more than any share; one that wasn't wants about what it used. A member with many
 *   circuits gets one share, like a member with one.
 * - **Token bucket** per member, refilled with its share each tick (at least
 *   RELAY_SHARE_FLOOR_BYTES): bytes relayed take tokens; at zero the member is paused until the
 *   next tick that leaves it tokens. Bytes that arrive while paused are charged when they are
 *   released, so a burst is paid back, never forgiven.
 * - **Quota** per member per period (`[nat] relay_member_quota_mb`): over it the member is cut.
 */
import {
  RELAY_BUCKET_TICKS,
  RELAY_BUSY_BACKOFF,
  RELAY_BUSY_CPU,
  RELAY_IDLE_GROWTH,
  RELAY_SHARE_FLOOR_BYTES,
} from './constants.ts'

/** Max-min fair allocation of `budget` over `demands` (Infinity allowed for both). */
export function waterFill(demands: readonly number[], budget: number): number[] {
  const out = new Array<number>(demands.length).fill(0)
  if (budget === Number.POSITIVE_INFINITY) return out.fill(Number.POSITIVE_INFINITY)
  const order = demands.map((_, i) => i).sort((x, y) => demands[x] - demands[y])
  let left = Math.max(0, budget)
  for (let k = 0; k < order.length; k++) {
    const fair = left / (order.length - k)
    const i = order[k]
    const give = Math.min(demands[i], fair)
    out[i] = give
    left -= give
  }
  return out
}

/**
 * The members' budget for the next tick, from the last one: `rate` (bytes per tick) when fixed,
 * else following the relay's load (`cpu`, the share of a core, 0–1) and what members used (`used`,
 * bytes). A busy relay backs off only while its own tunnel carries traffic (`ownActive`): that is
 * what the backoff keeps CPU for. Busy with nothing of its own to protect, the members' budget
 * keeps growing from what they used (so one member is not slowed, several get fair shares);
 * measured: backing off regardless held one member's relayed tunnel to 246–339 Mbit/s, against
 * 365–399 without (docs/nat.md).
 */
export function nextBudget(prev: number, used: number, cpu: number, rate: number, ownActive = true): number {
  if (rate > 0) return rate
  if (cpu >= RELAY_BUSY_CPU)
    return ownActive
      ? Math.max(used * RELAY_BUSY_BACKOFF, RELAY_SHARE_FLOOR_BYTES)
      : Math.max(used, RELAY_SHARE_FLOOR_BYTES) * RELAY_IDLE_GROWTH
  if (prev === Number.POSITIVE_INFINITY) return prev
  const grown = prev * RELAY_IDLE_GROWTH
  // lifted once members no longer come near it: nobody is slowed on an idle relay
  return grown > 4 * Math.max(used, RELAY_SHARE_FLOOR_BYTES) ? Number.POSITIVE_INFINITY : grown
}

/** One member's bucket and counters for a tick. */
export interface ShareAccount {
  /** Tokens (bytes) it may still relay; may go negative after a burst released on resume. */
  tokens: number
  /** Bytes relayed in the current tick. */
  tickBytes: number
  /** It ran out of tokens in the current tick (so it wants more than its share). */
  heldBack: boolean
  /** Its share for the current tick (bytes; Infinity: unlimited). */
  share: number
}

export function newShareAccount(): ShareAccount {
  return { tokens: Number.POSITIVE_INFINITY, tickBytes: 0, heldBack: false, share: Number.POSITIVE_INFINITY }
}

/**
 * Closes a tick: each active account gets its share of `budget` as tokens (bounded to
 * RELAY_BUCKET_TICKS shares), its tick counters reset. Returns the shares given, in order.
 */
export function refill(accounts: readonly ShareAccount[], budget: number): number[] {
  // a held-back member wants more than anyone can get; another about twice what it used. Not the
  // floor: three idle destinations asking 128 KiB each left two busy members 2.5 of a 4 MB/s cap
  // (measured); the floor is given below, on top, to whoever would get less
  const demands = accounts.map((a) => (a.heldBack ? Number.POSITIVE_INFINITY : 2 * a.tickBytes))
  const shares = waterFill(demands, budget)
  for (let i = 0; i < accounts.length; i++) {
    const a = accounts[i]
    const share = Math.max(shares[i], RELAY_SHARE_FLOOR_BYTES)
    a.share = shares[i] === Number.POSITIVE_INFINITY ? shares[i] : share
    a.tokens =
      a.share === Number.POSITIVE_INFINITY
        ? a.share
        : Math.min((a.tokens === Number.POSITIVE_INFINITY ? 0 : a.tokens) + share, RELAY_BUCKET_TICKS * share)
    a.tickBytes = 0
    a.heldBack = false
  }
  return shares
}

/** Charges `bytes` to an account; true when it has run out of tokens (pause it). */
export function charge(a: ShareAccount, bytes: number): boolean {
  a.tickBytes += bytes
  if (a.tokens === Number.POSITIVE_INFINITY) return false
  a.tokens -= bytes
  if (a.tokens > 0) return false
  a.heldBack = true
  return true
}

/** A member's usage in its quota period (fixed windows starting at its first relayed byte). */
export interface QuotaAccount {
  periodStart: number
  used: number
}

/** Adds `bytes` at `now`; returns the bytes used in the current period (a new one starts when due). */
export function useQuota(q: QuotaAccount, bytes: number, now: number, periodMs: number): number {
  if (now - q.periodStart >= periodMs) {
    q.periodStart = now
    q.used = 0
  }
  q.used += bytes
  return q.used
}
