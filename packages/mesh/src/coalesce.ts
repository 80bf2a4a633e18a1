/**
 * Runs an async job at most once at a time, coalescing requests: `schedule()` runs it after a short
 * debounce, `run()` now (or right after the current run, once, however many asked meanwhile).
 * The node's recompute uses it so a burst of record changes costs one recompute, not one each.
 * With `minGapMs`, a scheduled run also waits until that long after the last run started (the
 * topology's record check on interface changes: a flapping link makes one run per gap).
 */
export class Coalescer {
  private readonly job: () => Promise<void>
  private readonly debounceMs: number
  private readonly minGapMs: number
  private lastRunAt = Number.NEGATIVE_INFINITY
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false

  /** @param minGapMs @default 0 */
  constructor(job: () => Promise<void>, debounceMs: number, minGapMs = 0) {
    this.job = job
    this.debounceMs = debounceMs
    this.minGapMs = minGapMs
  }

  schedule(): void {
    if (this.timer != null || this.stopped) return
    const wait = Math.max(this.debounceMs, this.lastRunAt + this.minGapMs - performance.now())
    this.timer = setTimeout(() => {
      this.timer = null
      void this.run()
    }, wait)
  }

  async run(): Promise<void> {
    if (this.running != null) {
      this.again = true
      return this.running
    }
    this.lastRunAt = performance.now()
    this.running = this.job().finally(() => {
      this.running = null
    })
    await this.running
    if (this.again && !this.stopped) {
      this.again = false
      await this.run()
    }
  }

  stop(): void {
    this.stopped = true
    if (this.timer != null) clearTimeout(this.timer)
  }
}
