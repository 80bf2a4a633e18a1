/**
 * Longest-prefix-match IPv4 route table: overlay /32s, routed prefixes and 0.0.0.0/0 (the exit
 * node). Lookups are allocation-free: one Map per prefix length in use, probed from the longest
 * prefix to the shortest, so a lookup costs one probe per distinct length in use (a mesh with
 * /32s, a few /24 routes and an exit node: at most 3), not one per route.
 */

export class RouteTable<T> {
  private readonly byPrefix: Array<Map<number, T> | undefined> = new Array(33)
  private prefixes: number[] = [] // in use, longest first

  static mask(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  }

  set(base: number, prefix: number, value: T): void {
    let m = this.byPrefix[prefix]
    if (m == null) {
      m = new Map()
      this.byPrefix[prefix] = m
      this.prefixes = [...this.prefixes, prefix].sort((a, b) => b - a)
    }
    m.set((base & RouteTable.mask(prefix)) >>> 0, value)
  }

  delete(base: number, prefix: number): boolean {
    const m = this.byPrefix[prefix]
    if (m == null) return false
    const ok = m.delete((base & RouteTable.mask(prefix)) >>> 0)
    if (m.size === 0) {
      this.byPrefix[prefix] = undefined
      this.prefixes = this.prefixes.filter((p) => p !== prefix)
    }
    return ok
  }

  /** The value stored for exactly this prefix (no longest-prefix match). */
  get(base: number, prefix: number): T | undefined {
    return this.byPrefix[prefix]?.get((base & RouteTable.mask(prefix)) >>> 0)
  }

  lookup(ip: number): T | undefined {
    const prefixes = this.prefixes
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i]
      const v = (this.byPrefix[p] as Map<number, T>).get(p === 32 ? ip : (ip & RouteTable.mask(p)) >>> 0)
      if (v !== undefined) return v
    }
    return undefined
  }

  clear(): void {
    this.byPrefix.fill(undefined)
    this.prefixes = []
  }

  *entries(): Generator<{ base: number; prefix: number; value: T }> {
    for (const p of this.prefixes) {
      for (const [base, value] of this.byPrefix[p] as Map<number, T>) yield { base, prefix: p, value }
    }
  }
}
