/**
 * Longest-prefix-match IPv4 route table. Lookups are allocation-free: one Map per prefix length
 * in use, probed from the longest prefix to the shortest (at most 33 probes, usually 1: overlay
 * peers are /32 and are checked first).
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
