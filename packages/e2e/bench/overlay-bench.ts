/**
 * Benchmark (not a test): iperf3 through the meshlan overlay and through the raw lab link in the
 * same run, and ping under load. Prints numbers and the ratio; asserts nothing.
 *
 *   node packages/e2e/bench/overlay-bench.ts            (root; DUR=10 RUNS=3 to change)
 */
import { canRunLabs, iperf3Received, type LabProcess, startIperf3Server } from '@meshlan/lab'
import { createMeshLab, formMesh, ipOf } from '../src/index.ts'

const DUR = Number(process.env.DUR ?? 10)
const RUNS = Number(process.env.RUNS ?? 3)

const can = canRunLabs()
if (!can.ok) {
  console.error(`overlay benchmark skipped: ${can.reason}`)
  process.exit(0)
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const ml = await createMeshLab({ prefix: 'mlbn', hosts: ['a', 'b'] })
let server: LabProcess | null = null
try {
  await formMesh(ml, { owner: 'a', keys: { bench: null }, members: { b: 'bench' } })
  const a = ml.node('a')
  const b = ml.node('b')
  const overlay = await ipOf(b)
  const raw = b.host.address('lan')
  server = await startIperf3Server(b.host, 5201)
  const iperf = async (target: string, streams: number): Promise<number> => {
    const r = await a.exec(
      'iperf3',
      ['-c', target, '-p', '5201', '-t', String(DUR), '-P', String(streams), '-J'],
      (DUR + 30) * 1000,
    )
    try {
      return iperf3Received(r).bitsPerSecond / 1e6
    } catch (err) {
      console.error(`iperf3 → ${target}: ${(err as Error).message}`)
      return Number.NaN
    }
  }
  const pingUnderLoad = async (target: string): Promise<number> => {
    const load = a.exec('iperf3', ['-c', target, '-p', '5201', '-t', String(DUR), '-J'], (DUR + 30) * 1000)
    await new Promise((r) => setTimeout(r, 1000))
    const n = Math.max(1, Math.floor((DUR - 2) / 0.05))
    const p = await a.exec('ping', ['-c', String(n), '-i', '0.05', '-W', '2', target], (DUR + 30) * 1000)
    await load
    const times = [...p.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))
    return times.length ? times.reduce((s, x) => s + x, 0) / times.length : Number.NaN
  }
  await iperf(overlay, 1) // warm-up: connections, windows
  const res: Record<string, number[]> = {
    raw1: [],
    ovl1: [],
    raw4: [],
    ovl4: [],
    rawLoadPing: [],
    ovlLoadPing: [],
  }
  for (let r = 0; r < RUNS; r++) {
    res.raw1.push(await iperf(raw, 1))
    res.ovl1.push(await iperf(overlay, 1))
    res.raw4.push(await iperf(raw, 4))
    res.ovl4.push(await iperf(overlay, 4))
    res.rawLoadPing.push(await pingUnderLoad(raw))
    res.ovlLoadPing.push(await pingUnderLoad(overlay))
  }
  const idle = await a.exec('ping', ['-c', '50', '-i', '0.02', overlay])
  const idleAvg = /= [\d.]+\/([\d.]+)\//.exec(idle.stdout)?.[1]
  const f = (x: number) => x.toFixed(0)
  console.log(`meshlan overlay benchmark: ${RUNS} runs × ${DUR} s, medians (Mbit/s)`)
  console.log(
    `  1 stream : raw ${f(median(res.raw1))}  overlay ${f(median(res.ovl1))}  ratio ${(median(res.ovl1) / median(res.raw1)).toFixed(3)}`,
  )
  console.log(
    `  4 streams: raw ${f(median(res.raw4))}  overlay ${f(median(res.ovl4))}  ratio ${(median(res.ovl4) / median(res.raw4)).toFixed(3)}`,
  )
  console.log(
    `  ping under 1-stream load: raw ${median(res.rawLoadPing).toFixed(2)} ms  overlay ${median(res.ovlLoadPing).toFixed(2)} ms`,
  )
  console.log(`  idle overlay ping avg: ${idleAvg} ms`)
  console.log(`  every run: ${JSON.stringify(res)}`)
} finally {
  server?.kill('SIGKILL')
  await ml.teardown()
}
