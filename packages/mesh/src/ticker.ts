/**
 * Periodic upkeep (record checks, relay maintenance, the conntrack sweep, RTT refresh, saving
 * records) run in a wake-up the node already has: gossipsub's heartbeat. Each `setInterval` of its
 * own woke an idle node at its own phase — seven timers, ~0.55 wake-ups a second, each costing what
 * a cold wake-up costs (docs/benchmarks.md, sessions 12 and 14). Here a task runs at the first
 * heartbeat at or after it is due (up to half a heartbeat early), so its period is kept to within a
 * heartbeat; none of these tasks needs better.
 *
 * Without heartbeats (no driver yet, gossipsub stopped or stuck) a fallback timer runs the due
 * tasks itself, TICKER_FALLBACK_HEARTBEATS heartbeats after the earliest is due; every heartbeat
 * re-arms it, so while they come it never fires. A ticker that is never driven is a plain timer
 * that runs every task due at one wake-up.
 */
import { TICKER_FALLBACK_HEARTBEATS } from './constants.ts'

/** What drives a ticker: gossipsub's public 'gossipsub:heartbeat' event. */
export interface HeartbeatSource {
  addEventListener(type: 'gossipsub:heartbeat', listener: () => void): void
  removeEventListener(type: 'gossipsub:heartbeat', listener: () => void): void
}

export interface TickerInit {
  /** @default Date.now */
  now?(): number
}

interface Task {
  readonly periodMs: number
  due: number
  readonly fn: () => void
}

export class Ticker {
  private readonly tasks = new Set<Task>()
  private readonly now: () => number
  private source: HeartbeatSource | null = null
  private heartbeatMs = 0
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  private readonly onHeartbeat = () => this.run()

  constructor(init: TickerInit = {}) {
    this.now = init.now ?? Date.now
  }

  /**
   * Runs `fn` every `periodMs` (the first time one period from now), as setInterval would, in the
   * node's heartbeat. `fn` must not throw (as in a timer, a throw is uncaught); async work catches
   * its own errors. Returns the function that cancels it.
   */
  every(periodMs: number, fn: () => void): () => void {
    if (!(periodMs > 0)) throw new RangeError(`ticker period must be positive, got ${periodMs}`)
    const task: Task = { periodMs, due: this.now() + periodMs, fn }
    this.tasks.add(task)
    this.arm()
    return () => {
      this.tasks.delete(task)
      if (this.tasks.size === 0) this.disarm()
    }
  }

  /** From now on due tasks run at `source`'s heartbeats, every `heartbeatMs`. */
  drive(source: HeartbeatSource, heartbeatMs: number): void {
    this.source?.removeEventListener('gossipsub:heartbeat', this.onHeartbeat)
    this.source = source
    this.heartbeatMs = heartbeatMs
    source.addEventListener('gossipsub:heartbeat', this.onHeartbeat)
    this.arm()
  }

  /** Cancels every task and the driver. */
  stop(): void {
    this.stopped = true
    this.source?.removeEventListener('gossipsub:heartbeat', this.onHeartbeat)
    this.source = null
    this.tasks.clear()
    this.disarm()
  }

  /** Runs every task due by now (by the next half heartbeat when driven), then re-arms. */
  private run(): void {
    if (this.stopped) return
    const now = this.now()
    const horizon = now + this.heartbeatMs / 2
    for (const task of [...this.tasks]) {
      if (task.due > horizon || !this.tasks.has(task)) continue
      // the next due time keeps the phase; periods missed while nothing ran are skipped
      task.due += task.periodMs * Math.max(1, Math.ceil((now - task.due) / task.periodMs))
      task.fn()
    }
    this.arm()
  }

  private arm(): void {
    this.disarm()
    if (this.stopped || this.tasks.size === 0) return
    let earliest = Number.POSITIVE_INFINITY
    for (const t of this.tasks) earliest = Math.min(earliest, t.due)
    const slack = this.source != null ? this.heartbeatMs * TICKER_FALLBACK_HEARTBEATS : 0
    this.timer = setTimeout(() => this.run(), Math.max(0, earliest + slack - this.now()))
    // the node's sockets keep the process alive; an upkeep timer must not
    this.timer.unref()
  }

  private disarm(): void {
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = null
  }
}
