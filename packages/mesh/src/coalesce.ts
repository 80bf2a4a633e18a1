/**
 * Runs an async job at most once at a time, coalescing requests: `schedule()` runs it after a short
 * debounce, `run()` now (or right after the current run, once, however many asked meanwhile).
 * The node's recompute uses it so a burst of record changes costs one recompute, not one each.
 */
export class Coalescer {
  private readonly job: () => Promise<void>
  private readonly debounceMs: number
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false

  constructor(job: () => Promise<void>, debounceMs: number) {
    this.job = job
    this.debounceMs = debounceMs
  }

  schedule(): void {
    if (this.timer != null || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      void this.run()
    }, this.debounceMs)
  }

  async run(): Promise<void> {
    if (this.running != null) {
      this.again = true
      return this.running
    }
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
