/**
 * Route table lookups: N overlay /32s, R routed /24s and 0.0.0.0/0, looked up for overlay, routed
 * and internet destinations. Prints ns per lookup; no timed assertions.
 * Run: node packages/mesh/bench/route-table-bench.ts
 */
import { RouteTable } from '../src/route-table.ts'

const OVERLAY = 0x0a900000 // 10.144.0.0
const LANS = 0xc0a80000 // 192.168.0.0
const LOOKUPS = 2_000_000

for (const [peers, routes] of [
  [50, 0],
  [1000, 32],
  [5000, 256],
] as const) {
  const t = new RouteTable<number>()
  for (let i = 1; i <= peers; i++) t.set(OVERLAY + i, 32, i)
  for (let r = 0; r < routes; r++) t.set(LANS + (r << 8), 24, 100_000 + r)
  t.set(0, 0, -1)
  const cases: Array<[string, (i: number) => number]> = [
    ['overlay /32', (i) => OVERLAY + 1 + (i % peers)],
    ['routed /24', (i) => (routes === 0 ? OVERLAY + 1 : LANS + ((i % routes) << 8) + 7)],
    ['internet 0/0', (i) => (0x08080000 + i) >>> 0],
  ]
  for (const [name, dst] of cases) {
    const ips = Uint32Array.from({ length: 4096 }, (_, i) => dst(i))
    let sink = 0
    const start = process.hrtime.bigint()
    for (let i = 0; i < LOOKUPS; i++) sink += t.lookup(ips[i & 4095]) as number
    const ns = Number(process.hrtime.bigint() - start) / LOOKUPS
    console.log(`${peers} peers, ${routes} routes, ${name}: ${ns.toFixed(1)} ns/lookup (sink ${sink & 1})`)
  }
}
