/**
 * Benchmark (not a test): hole punching through two port-preserving MASQUERADE NATs, ATTEMPTS
 * times (b restarts each time, so every attempt is a fresh relayed tunnel and a fresh punch), then
 * iperf3 over the direct path and over a relay (symmetric NAT lab). Prints numbers; asserts nothing.
 *
 *   node packages/e2e/bench/nat-bench.ts          (root; ATTEMPTS=20 DUR=5)
 */
import { canRunLabs, iperf3Received, startIperf3Server, waitFor } from '@meshlan/lab'
import { ipOf, type MeshHost, type MeshLab } from '../src/index.ts'
import { createNatLab } from '../src/nat-lab.ts'

const ATTEMPTS = Number(process.env.ATTEMPTS ?? 20)
const DUR = Number(process.env.DUR ?? 5)

const can = canRunLabs()
if (!can.ok) {
  console.error(`NAT benchmark skipped: ${can.reason}`)
  process.exit(0)
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]
}

async function pathTo(from: MeshHost, name: string): Promise<string | undefined> {
  return (await from.status()).peers.find((p) => p.name === name)?.path
}

async function iperf(ml: MeshLab, target: string): Promise<number> {
  const b = ml.node('b')
  const server = await startIperf3Server(b.host, 5201)
  const r = await ml.node('a').exec('iperf3', ['-c', target, '-t', String(DUR), '-J'], (DUR + 30) * 1000)
  server.kill('SIGKILL')
  try {
    return iperf3Received(r).bitsPerSecond / 1e6
  } catch (err) {
    console.error(`iperf3 → ${target}: ${(err as Error).message}`)
    return Number.NaN
  }
}

const results: Array<{ ok: boolean; firstReplyMs: number; directMs: number }> = []
let directMbps = Number.NaN
let relayMbps = Number.NaN

let ml = await createNatLab({ prefix: 'mlnb' })
try {
  const a = ml.node('a')
  const b = ml.node('b')
  const bIp = await ipOf(b)
  for (let i = 0; i < ATTEMPTS; i++) {
    // every attempt: b restarts, and the clock starts when `meshlan up` returns
    await b.cli(['down'])
    await waitFor(async () => (await pathTo(a, 'b')) === 'none', {
      timeoutMs: 20_000,
      intervalMs: 100,
    }).catch(() => {})
    await b.cli(['up'])
    const t0 = Date.now()
    let firstReplyMs = Number.NaN
    let directMs = Number.NaN
    try {
      await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
        timeoutMs: 10_000,
        intervalMs: 20,
      })
      firstReplyMs = Date.now() - t0
      await waitFor(async () => (await pathTo(a, 'b')) === 'direct', { timeoutMs: 15_000, intervalMs: 50 })
      directMs = Date.now() - t0
    } catch {}
    results.push({ ok: Number.isFinite(directMs), firstReplyMs, directMs })
    console.error(`attempt ${i + 1}: first reply ${firstReplyMs} ms after up, direct ${directMs} ms after up`)
  }
  directMbps = await iperf(ml, await ipOf(b))
} finally {
  await ml.teardown()
}

ml = await createNatLab({ prefix: 'mlnb', symmetricB: true })
try {
  const b = ml.node('b')
  await waitFor(
    async () =>
      (await b.json<{ relays: Array<{ reserved: boolean }> }>(['netcheck'])).relays.some((r) => r.reserved),
    {
      timeoutMs: 20_000,
    },
  )
  const bIp = await ipOf(b)
  await waitFor(async () => (await ml.node('a').exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
    timeoutMs: 10_000,
  })
  relayMbps = await iperf(ml, bIp)
} finally {
  await ml.teardown()
}

const ok = results.filter((r) => r.ok)
console.log(`meshlan NAT benchmark: ${ATTEMPTS} attempts through two port-preserving MASQUERADE NATs`)
console.log(
  `  direct by hole punching: ${ok.length}/${results.length} (${((100 * ok.length) / results.length).toFixed(0)}%)`,
)
const replies = results.map((r) => r.firstReplyMs).filter(Number.isFinite)
const directs = ok.map((r) => r.directMs)
console.log(
  `  first reply after \`meshlan up\` returned: median ${median(replies)} ms, max ${Math.max(...replies)} ms`,
)
console.log(
  `  direct after \`meshlan up\` returned: median ${median(directs)} ms, max ${Math.max(...directs)} ms`,
)
console.log(
  `  iperf3 ${DUR} s, 1 stream: direct ${directMbps.toFixed(0)} Mbit/s, relayed (symmetric NAT) ${relayMbps.toFixed(0)} Mbit/s`,
)
