/**
 * The public IPs members observed for us: the N most recent observations, members only (the
 * caller checks membership before `add`). Bounded so a member claiming many addresses can neither
 * grow our state nor our CONNECT messages.
 */
import { MAX_OBSERVED_IPS } from './constants.ts'

export class ObservedIps {
  private readonly max: number
  /** insertion order = recency: the newest observation is last */
  private readonly ips = new Map<string, number>()

  constructor(max = MAX_OBSERVED_IPS) {
    this.max = max
  }

  /** Records an observation; returns true when the IP is new to us (worth announcing). */
  add(ip: string, now: number): boolean {
    const fresh = !this.ips.has(ip)
    this.ips.delete(ip)
    this.ips.set(ip, now)
    while (this.ips.size > this.max) {
      const oldest = this.ips.keys().next().value
      if (oldest === undefined) break
      this.ips.delete(oldest)
    }
    return fresh
  }

  has(ip: string): boolean {
    return this.ips.has(ip)
  }

  /** Most recent first. */
  list(): string[] {
    return [...this.ips.keys()].reverse()
  }

  get size(): number {
    return this.ips.size
  }
}
