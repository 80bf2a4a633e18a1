/**
 * Per-source token buckets: each source IP may send `qps` queries per second with bursts of up to
 * `burst`. The table is bounded: past `maxSources` the least recently seen source is forgotten
 * (which only ever errs towards letting a query through).
 */

export interface RateLimitInit {
  qps: number
  burst: number
  maxSources: number
}

interface Bucket {
  tokens: number
  last: number
}

export class RateLimiter {
  private readonly qps: number
  private readonly burst: number
  private readonly maxSources: number
  private readonly buckets = new Map<string, Bucket>()

  constructor(init: RateLimitInit) {
    this.qps = init.qps
    this.burst = init.burst
    this.maxSources = Math.max(1, init.maxSources)
  }

  /** Takes one token for `source`; false when its bucket is empty (the query should be refused). */
  take(source: string, now: number = performance.now()): boolean {
    let b = this.buckets.get(source)
    if (b === undefined) {
      if (this.buckets.size >= this.maxSources) {
        const oldest = this.buckets.keys().next().value
        if (oldest !== undefined) this.buckets.delete(oldest)
      }
      b = { tokens: this.burst, last: now }
    } else {
      // Re-insert so Map order stays least-recently-seen first.
      this.buckets.delete(source)
      const refill = ((now - b.last) * this.qps) / 1000
      b.tokens = Math.min(this.burst, b.tokens + refill)
      b.last = now
    }
    this.buckets.set(source, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  get sources(): number {
    return this.buckets.size
  }

  clear(): void {
    this.buckets.clear()
  }
}
