/**
 * Benchmark (not a test): where a relayed tunnel's time goes. The NAT lab (drop routers), a → b
 * once direct and once through relay1 (the direct path blocked at a's router, relay2 blocked too so
 * the relay is known): iperf3 for DUR seconds each, and the CPU each daemon used meanwhile (from
 * /proc/<pid>/stat), so "the relay is CPU-bound" or "the ends are" or "nobody is: a window is" can be
 * told apart. With PROFILE=<node> (relay1, a or b) the relayed run also takes a CPU profile of that
 * daemon (SIGUSR1 opens its inspector on the namespace's loopback; cpu-profile-client.ts reads it)
 * and prints where its time went. Prints one line per run; asserts nothing.
 *
 *   node packages/e2e/bench/relay-profile.ts      (root; DUR=5 PARALLEL=1 RUNS=1 PROFILE=relay1)
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { canRunLabs, iperf3Received, startIperf3Server, waitFor } from '@meshlan/lab'
import { ipOf, type MeshHost, type MeshLab } from '../src/index.ts'
import { createNatLab } from '../src/nat-lab.ts'

const DUR = Number(process.env.DUR ?? 5)
const PARALLEL = Number(process.env.PARALLEL ?? 1)
const RUNS = Number(process.env.RUNS ?? 1)
const PREFIX = process.env.PREFIX ?? 'mlrfp'
const PROFILE = process.env.PROFILE ?? ''
const CLIENT = new URL('./cpu-profile-client.ts', import.meta.url).pathname
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const USER_HZ = 100

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 (1-based); after the ')' field 3 is at index 0
  return Number(f[11]) + Number(f[12])
}

const pidOf = (n: MeshHost) => Number(readFileSync(join(n.state, 'daemon.pid'), 'utf8').trim())

async function measure(ml: MeshLab, what: string, path: string, profile = ''): Promise<void> {
  const a = ml.node('a')
  const b = ml.node('b')
  const bIp = await ipOf(b)
  const names = ['a', 'b', 'relay1', 'relay2']
  const pids = names.map((n) => pidOf(ml.node(n)))
  let prof: Promise<string> | null = null
  if (profile !== '') {
    const n = ml.node(profile)
    n.host.kill(pidOf(n), 'SIGUSR1')
    await new Promise((r) => setTimeout(r, 500))
    const out = `/tmp/${PREFIX}-${profile}-${Date.now()}.cpuprofile`
    prof = n
      .exec(process.execPath, [CLIENT, '9229', String(DUR * 1000 - 500), out], 60_000)
      .then((r) => `${r.stdout}${r.stderr}(profile: ${out})`)
  }
  const idle = await a.exec('ping', ['-c', '10', '-i', '0.1', bIp], 30_000)
  const idleRtts = [...idle.stdout.matchAll(/time=([\d.]+) ms/g)]
    .map((m) => Number(m[1]))
    .sort((x, y) => x - y)
  // the overlay RTT under load: what a packet waits behind the bulk flow
  const ping = a.host.spawn('ping', ['-i', '0.2', '-w', String(DUR), bIp])
  const before = pids.map(cpuTicks)
  const t0 = Date.now()
  const r = iperf3Received(
    await a.exec(
      'iperf3',
      ['-c', bIp, '-p', '5399', '-t', String(DUR), '-P', String(PARALLEL), '-J'],
      60_000,
    ),
  )
  const secs = (Date.now() - t0) / 1000
  const cpu = pids.map((p, i) => ((cpuTicks(p) - before[i]) / USER_HZ / secs) * 100)
  await ping.exited
  const rtts = [...ping.output().matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y)
  const st = (await a.status()).peers.find((p) => p.name === 'b')
  console.log(
    `${what}: ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s (path ${st?.path}, expected ${path}); daemon CPU: ${names.map((n, i) => `${n} ${cpu[i].toFixed(0)} %`).join(', ')}; ping idle median ${idleRtts[idleRtts.length >> 1]} ms, under load median ${rtts[rtts.length >> 1]} ms, max ${rtts.at(-1)} ms`,
  )
  if (prof != null) console.log(`CPU profile of ${profile}:\n${await prof}`)
}

async function main(): Promise<void> {
  const can = canRunLabs()
  if (!can.ok) throw new Error(`needs root: ${can.reason}`)
  const ml = await createNatLab({ prefix: PREFIX })
  const natA = ml.lab.router('nata')
  const natBWan = ml.lab.router('natb').wanAddress
  const relay2 = ml.node('relay2').host
  try {
    const a = ml.node('a')
    const b = ml.node('b')
    const bIp = await ipOf(b)
    await startIperf3Server(b.host, 5399)
    // relay2 out of the game from the start: the relayed connection a ↔ b runs through relay1 (a
    // circuit through a relay that silently died later is not watched; see docs/nat.md)
    for (const c of ['INPUT', 'OUTPUT']) await relay2.exec('iptables', ['-I', c, '-j', 'DROP'])
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 20_000,
    })
    await waitFor(async () => (await a.status()).peers.find((p) => p.name === 'b')?.path === 'direct', {
      timeoutMs: 30_000,
    })
    for (let i = 0; i < RUNS; i++) await measure(ml, 'direct', 'direct')
    // the relay path only, through relay1: the direct path and relay2 dropped
    await natA.exec('iptables', ['-I', 'FORWARD', '-d', natBWan, '-j', 'DROP'])
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 20_000,
    })
    // traffic keeps the direct-path watchdog looking (it watches active tunnels only)
    const pinger = a.host.spawn('ping', ['-i', '0.2', bIp])
    await waitFor(async () => (await a.status()).peers.find((p) => p.name === 'b')?.path === 'relay', {
      timeoutMs: 20_000,
    })
    pinger.kill()
    for (let i = 0; i < RUNS; i++) await measure(ml, 'relayed', 'relay', i === 0 ? PROFILE : '')
  } finally {
    await ml.teardown()
  }
}

await main()
