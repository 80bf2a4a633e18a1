/**
 * What a member relay forwards for each member: counted, shared fairly, capped by an optional
 * quota, and never at the cost of the relay's own traffic (relay-share.ts has the arithmetic).
 *
 * Circuit relay v2 pipes each circuit's two streams inside the library; the adapter lists them
 * (`relayStreams()`: every stream this node forwards, with the member whose upload it carries).
 * Each tick the governor picks up new ones and listens to their bytes. A member out of tokens has
 * all its relay streams paused: a paused yamux stream stops granting window, so the member's own
 * sender slows down (nothing is dropped, nothing buffers beyond one window). Over its quota, a
 * member's circuits are cut and new ones refused (the connection gater asks `refusal()`).
 */
import type { Stream } from '@libp2p/interface'
import { YAMUX_INITIAL_WINDOW, YAMUX_RELAYED_MAX_WINDOW } from '../constants.ts'
import type { Logger } from '../logger.ts'
import { capRelayStreamWindow } from '../path-windows.ts'
import {
  RELAY_MAX_CIRCUITS_PER_MEMBER,
  RELAY_MAX_MEMBER_ACCOUNTS,
  RELAY_QUOTA_PERIOD_MS,
  RELAY_SHARE_FLOOR_BYTES,
  RELAY_SHARE_TICK_MS,
  RELAY_THROTTLED_WINDOW_TICKS,
} from './constants.ts'
import { RelayCircuitLimitError, RelayQuotaExceededError } from './errors.ts'
import { holdRelayStream, type RelayedStream } from './libp2p-adapter.ts'
import {
  charge,
  newShareAccount,
  nextBudget,
  type QuotaAccount,
  refill,
  type ShareAccount,
  useQuota,
} from './relay-share.ts'

export interface RelayGovernorInit {
  /** What members may relay through us together, bytes per second (0: no fixed cap). */
  rateBytesPerSec?: number
  /** Bytes a member may relay per period (0: no quota). */
  quotaBytes?: number
  /** @default RELAY_QUOTA_PERIOD_MS */
  quotaPeriodMs?: number
  /** Circuits one member may have open through us as their source. @default RELAY_MAX_CIRCUITS_PER_MEMBER */
  maxCircuitsPerMember?: number
  /** The streams we forward for members now (the adapter's relayStreams()). */
  streams(): RelayedStream[]
  /** The share of one core this process used since the last call, 0–1. @default from process.cpuUsage() */
  load?(): number
  /**
   * Whether this node's own tunnel moved packets lately: only then does a busy relay hold members
   * back to leave it CPU. @default always (back off whenever busy)
   */
  ownTraffic?(): boolean
  /** @default Date.now */
  now?(): number
  log: Logger
}

/** One member's account on this relay (netcheck `relayMembers`, metrics). */
export interface RelayMemberUsage {
  peerId: string
  /** Bytes relayed for it since we started (its uploads through us). */
  bytes: number
  /** Bytes in its current quota period. */
  periodBytes: number
  /** Its share of the last tick, bytes per second (null: not limited). */
  shareBytesPerSec: number | null
  /** Times it was paused for having used its share. */
  throttled: number
  /** Circuits cut because it went over its quota, and circuits refused while over it. */
  quotaCuts: number
  quotaRefused: number
  /** Why it is refused now (over its quota), or null. */
  refusedBecause: string | null
  /** Relay streams open for it now. */
  streams: number
}

export interface RelayGovernorStats {
  /** Bytes relayed for all members. */
  bytes: number
  /** The members' budget per second now (null: unlimited). */
  budgetBytesPerSec: number | null
  throttled: number
  quotaCuts: number
  quotaRefused: number
  /** Accounts dropped at RELAY_MAX_MEMBER_ACCOUNTS (least recently active first). */
  accountsEvicted: number
  members: RelayMemberUsage[]
}

interface Member {
  peerId: string
  share: ShareAccount
  quota: QuotaAccount
  bytes: number
  throttled: number
  quotaCuts: number
  quotaRefused: number
  paused: boolean
  streams: Set<Stream>
  lastActive: number
}

/**
 * CPU time this process used per wall-clock time since the last call. Not the event loop's
 * utilisation: on a machine shared with other work a loop waiting for a core counts as busy there,
 * and members were throttled for what other processes did (lab: relayed 13–31 Mbit/s with the relay
 * at 28 % of a core).
 */
const defaultLoad = (): (() => number) => {
  let lastCpu = process.cpuUsage()
  let lastAt = performance.now()
  return () => {
    const cpu = process.cpuUsage(lastCpu)
    const now = performance.now()
    const wallUs = (now - lastAt) * 1000
    lastCpu = process.cpuUsage()
    lastAt = now
    return wallUs > 0 ? (cpu.user + cpu.system) / wallUs : 0
  }
}

export class RelayGovernor {
  private readonly init: RelayGovernorInit
  private readonly ratePerTick: number
  private readonly quotaBytes: number
  private readonly quotaPeriodMs: number
  private readonly load: () => number
  private readonly now: () => number
  /** Insertion order = least recently active first (re-inserted on activity). */
  private readonly members = new Map<string, Member>()
  private readonly tracked = new WeakSet<Stream>()
  private budget = Number.POSITIVE_INFINITY
  private timer: NodeJS.Timeout | null = null
  /** start() was called and stop() was not: the tick runs while anything is relayed (wake()). */
  private running = false
  private totalBytes = 0
  /** When a relayed stream last carried bytes (this.now()); -Infinity before any. */
  private lastBytesAt = Number.NEGATIVE_INFINITY
  private throttledTotal = 0
  private quotaCutsTotal = 0
  private quotaRefusedTotal = 0
  private evicted = 0

  constructor(init: RelayGovernorInit) {
    this.init = init
    this.ratePerTick = ((init.rateBytesPerSec ?? 0) * RELAY_SHARE_TICK_MS) / 1000
    this.quotaBytes = init.quotaBytes ?? 0
    this.quotaPeriodMs = init.quotaPeriodMs ?? RELAY_QUOTA_PERIOD_MS
    this.load = init.load ?? defaultLoad()
    this.now = init.now ?? Date.now
    if (this.ratePerTick > 0) this.budget = this.ratePerTick
  }

  start(): void {
    this.running = true
    this.wake()
  }

  stop(): void {
    this.running = false
    this.sleep()
    for (const m of this.members.values()) {
      for (const s of m.streams) capRelayStreamWindow(s, null)
      this.resume(m)
    }
  }

  /** Ticks again: a circuit is being admitted (refusal()), or start(). */
  private wake(): void {
    if (!this.running || this.timer != null) return
    this.timer = setInterval(() => this.tick(), RELAY_SHARE_TICK_MS)
    this.timer.unref()
  }

  /**
   * No tick while nothing is relayed: ten a second, each a pass over every connection's streams,
   * were an idle node's largest timer (issue 14). Every circuit is admitted through refusal(),
   * which wakes the tick before its bytes flow. The budget is left where idle ticks would take it
   * within a second (the fixed rate, or no limit), so a circuit admitted later starts unthrottled
   * on an idle relay and the first tick sees the relay's load again.
   */
  private sleep(): void {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = null
    this.budget = this.ratePerTick > 0 ? this.ratePerTick : Number.POSITIVE_INFINITY
  }

  /**
   * Whether a relayed stream carried bytes within `ms`: the daemon's heap trim does not collect
   * into a transfer a relay carries (its own tunnels say nothing about circuits).
   */
  relayedWithin(ms: number): boolean {
    return this.now() - this.lastBytesAt < ms
  }

  /** Whether the tick is running (tests: it stops while nothing is relayed). */
  get ticking(): boolean {
    return this.timer != null
  }

  /**
   * Why a circuit between these members must not start now (asked by the connection gater before
   * the relay connects them), or null. Either end over its quota refuses it: both upload through us.
   */
  refusal(source: string, destination: string): string | null {
    // the new circuit's HOP stream is open already: it counts, and is governed from now (a tick
    // later, on loopback, its window had grown to the most a burst can then release)
    this.pickUp(this.now())
    this.wake()
    let open = 0
    for (const s of this.init.streams()) if (s.member === source && s.stream.direction === 'inbound') open++
    if (open > (this.init.maxCircuitsPerMember ?? RELAY_MAX_CIRCUITS_PER_MEMBER)) {
      this.init.log.info('relayed connection refused: member at its circuit limit', { member: source, open })
      return new RelayCircuitLimitError(source, open - 1).message
    }
    for (const id of [source, destination]) {
      const m = this.members.get(id)
      if (m == null || this.quotaBytes <= 0) continue
      const used = this.periodUsed(m)
      if (used < this.quotaBytes) continue
      m.quotaRefused++
      this.quotaRefusedTotal++
      const err = this.quotaError(m, used)
      this.init.log.info('relayed connection refused: member over its quota', {
        member: id,
        source,
        destination,
      })
      return err.message
    }
    return null
  }

  /** One tick: pick up new relay streams, close the last tick's accounts, hand out shares. */
  tick(): void {
    this.pickUp(this.now())
    const active: Member[] = []
    let used = 0
    for (const m of this.members.values()) {
      used += m.share.tickBytes
      if (m.streams.size > 0) active.push(m)
    }
    if (active.length === 0) {
      this.sleep()
      return
    }
    this.budget = nextBudget(
      this.budget,
      used,
      this.load(),
      this.ratePerTick,
      this.init.ownTraffic?.() ?? true,
    )
    refill(
      active.map((m) => m.share),
      this.budget,
    )
    for (const m of active) {
      this.capWindows(m)
      if (m.share.tokens > 0) this.resume(m)
    }
  }

  /** Tracks the relay streams opened since the last look. */
  private pickUp(now: number): void {
    for (const { member, stream } of this.init.streams()) {
      if (this.tracked.has(stream)) continue
      this.tracked.add(stream)
      this.track(this.account(member, now), stream)
    }
  }

  stats(): RelayGovernorStats {
    const perSec = (perTick: number): number | null =>
      perTick === Number.POSITIVE_INFINITY ? null : Math.round((perTick * 1000) / RELAY_SHARE_TICK_MS)
    return {
      bytes: this.totalBytes,
      budgetBytesPerSec: perSec(this.budget),
      throttled: this.throttledTotal,
      quotaCuts: this.quotaCutsTotal,
      quotaRefused: this.quotaRefusedTotal,
      accountsEvicted: this.evicted,
      members: [...this.members.values()].map((m) => {
        const used = this.periodUsed(m)
        return {
          peerId: m.peerId,
          bytes: m.bytes,
          periodBytes: used,
          shareBytesPerSec: m.streams.size > 0 ? perSec(m.share.share) : null,
          throttled: m.throttled,
          quotaCuts: m.quotaCuts,
          quotaRefused: m.quotaRefused,
          refusedBecause:
            this.quotaBytes > 0 && used >= this.quotaBytes ? this.quotaError(m, used).message : null,
          streams: m.streams.size,
        }
      }),
    }
  }

  private account(peerId: string, now: number): Member {
    let m = this.members.get(peerId)
    if (m != null) return m
    m = {
      peerId,
      share: newShareAccount(),
      quota: { periodStart: now, used: 0 },
      bytes: 0,
      throttled: 0,
      quotaCuts: 0,
      quotaRefused: 0,
      paused: false,
      streams: new Set(),
      lastActive: now,
    }
    if (this.budget !== Number.POSITIVE_INFINITY) {
      // members are being limited: a newcomer starts with the floor share until the next tick
      // hands out shares, not with an unlimited bucket
      m.share.share = RELAY_SHARE_FLOOR_BYTES
      m.share.tokens = RELAY_SHARE_FLOOR_BYTES
    }
    this.members.set(peerId, m)
    if (this.members.size > RELAY_MAX_MEMBER_ACCOUNTS) {
      // the least recently active account without open streams goes (a member with streams stays)
      for (const [id, old] of this.members) {
        if (old.streams.size > 0) continue
        this.members.delete(id)
        this.evicted++
        break
      }
    }
    return m
  }

  private track(m: Member, stream: Stream): void {
    m.streams.add(stream)
    this.capWindows(m)
    if (m.paused) this.pauseStream(stream)
    stream.addEventListener('message', (evt) => this.onBytes(m, stream, evt.data.byteLength))
    stream.addEventListener('close', () => m.streams.delete(stream), { once: true })
  }

  private onBytes(m: Member, stream: Stream, n: number): void {
    const now = this.now()
    m.bytes += n
    this.totalBytes += n
    this.lastBytesAt = now
    if (now - m.lastActive > RELAY_SHARE_TICK_MS) {
      // keep the accounts table in activity order (eviction takes the front)
      m.lastActive = now
      this.members.delete(m.peerId)
      this.members.set(m.peerId, m)
    }
    if (this.quotaBytes > 0) {
      const used = useQuota(m.quota, n, now, this.quotaPeriodMs)
      if (used >= this.quotaBytes) {
        this.cut(m, used)
        return
      }
    }
    if (charge(m.share, n) && !m.paused) {
      m.throttled++
      this.throttledTotal++
      m.paused = true
      for (const s of m.streams) this.pauseStream(s)
    } else if (m.paused) {
      // a stream of a held member flowed: resume() cleared every mark, then stopped early when the
      // member ran out again, and the relay's forwarding resumed one it had paused itself — hold it
      this.pauseStream(stream)
    }
  }

  private cut(m: Member, used: number): void {
    if (m.streams.size === 0) return
    const err = this.quotaError(m, used)
    m.quotaCuts += m.streams.size
    this.quotaCutsTotal += m.streams.size
    this.init.log.warn('member over its relay quota: circuits cut', {
      member: m.peerId,
      usedBytes: used,
      quotaBytes: this.quotaBytes,
    })
    for (const s of [...m.streams]) s.abort(err)
    m.streams.clear()
  }

  private periodUsed(m: Member): number {
    return this.now() - m.quota.periodStart >= this.quotaPeriodMs ? 0 : m.quota.used
  }

  private quotaError(m: Member, used: number): RelayQuotaExceededError {
    const resetsIn = Math.max(0, m.quota.periodStart + this.quotaPeriodMs - this.now())
    return new RelayQuotaExceededError(m.peerId, used, this.quotaBytes, resetsIn)
  }

  /** A limited member's streams get windows sized to its share (RELAY_THROTTLED_WINDOW_TICKS). */
  private capWindows(m: Member): void {
    const share = m.share.share
    const cap =
      share === Number.POSITIVE_INFINITY
        ? null
        : Math.min(
            YAMUX_RELAYED_MAX_WINDOW,
            Math.max(
              YAMUX_INITIAL_WINDOW,
              Math.round((RELAY_THROTTLED_WINDOW_TICKS * share) / m.streams.size),
            ),
          )
    for (const s of m.streams) capRelayStreamWindow(s, cap)
  }

  private resume(m: Member): void {
    if (!m.paused) return
    m.paused = false
    for (const s of m.streams) holdRelayStream(s, false)
    for (const s of m.streams) {
      // resuming releases what arrived meanwhile at once: it is charged, and may pause the member
      // again, then the rest stay paused
      if (m.paused) break
      if (s.readStatus === 'paused') s.resume()
    }
  }

  private pauseStream(s: Stream): void {
    // held: the relay's forwarding must not resume it on its own 'drain' (libp2p-adapter.ts)
    holdRelayStream(s, true)
    // a closing stream cannot be paused (and needs no pausing)
    if (s.readStatus === 'readable') s.pause()
  }
}
