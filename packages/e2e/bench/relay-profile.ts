/**
 * Benchmark (not a test): where a relayed tunnel's time goes. The NAT lab (drop routers), a → b
 * once direct and once through relay1 (the direct path blocked at a's router, relay2 blocked too so
 * the relay is known): iperf3 for DUR seconds each, and the CPU each daemon used meanwhile (from
 * /proc/<pid>/stat), so "the relay is CPU-bound" or "the ends are" or "nobody is: a window is" can be
 * told apart. With PROFILE=<node> (relay1, a or b) the relayed run also takes a CPU profile of that
 * daemon (SIGUSR1 opens its inspector on the namespace's loopback; cpu-profile-client.ts reads it)
 * and prints where its time went. Prints one line per run; asserts nothing.
 *
 * Beside the rate it prints what could explain it: the pump's drop counters on a and b over the
 * run (CODEL, QUEUE_FULL: TCP inside the tunnel halves its window at each), the inner TCP's
 * retransmits (iperf3 -J), how often relay1's governor paused a member, and `ss -ti` of a's sockets
 * halfway through (cwnd and RTT of the inner flow and of a's outer libp2p connection).
 *
 *   node packages/e2e/bench/relay-profile.ts      (root; DUR=5 PARALLEL=1 RUNS=1 PROFILE=relay1
 *                                                  PREFIX=mlrfp SS=1)
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
/** STRACE=<node>: trace that daemon's write syscalls for 1 s halfway through the relayed runs. */
const STRACE = process.env.STRACE ?? ''
/** SS=1: print `ss -ti` of a's TCP sockets halfway through each run. */
const SS = process.env.SS === '1'
const CLIENT = new URL('./cpu-profile-client.ts', import.meta.url).pathname
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const USER_HZ = 100

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 (1-based); after the ')' field 3 is at index 0
  return Number(f[11]) + Number(f[12])
}

interface DropStatus {
  drops?: Record<string, number>
}
interface RelayUsage {
  relayUsage: { throttled: number; bytes: number } | null
}

/** The pump's non-zero drop counters of a node. */
async function drops(n: MeshHost): Promise<Record<string, number>> {
  return (await n.json<DropStatus>(['status'])).drops ?? {}
}

function dropDiff(after: Record<string, number>, before: Record<string, number>): string {
  const d = Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
    .filter(([, v]) => v > 0)
  return d.length === 0 ? 'none' : d.map(([k, v]) => `${k} ${v}`).join(' ')
}

async function throttled(n: MeshHost): Promise<number> {
  return (await n.json<RelayUsage>(['netcheck'])).relayUsage?.throttled ?? 0
}

/** Retransmits the iperf3 client counted (the inner TCP's). */
function retransmits(stdout: string): number {
  const doc = JSON.parse(stdout) as { end?: { sum_sent?: { retransmits?: number } } }
  return doc.end?.sum_sent?.retransmits ?? -1
}

/** One line per established TCP socket of `ss -tin`: queues, RTT, cwnd, bytes not yet sent. */
function sockets(ss: string): string {
  const lines = ss.split('\n')
  let out = ''
  for (let i = 0; i < lines.length; i++) {
    const m = /^ESTAB\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)/.exec(lines[i])
    if (m == null) continue
    const info = lines[i + 1] ?? ''
    const f = (k: string) => new RegExp(`\\b${k}:([\\d./]+)`).exec(info)?.[1] ?? '-'
    if (Number(m[1]) + Number(m[2]) < 4096 && !/:5399$/.test(m[4])) continue
    out += `  ${m[3]} → ${m[4]}: recvQ ${m[1]} sendQ ${m[2]} notsent ${f('notsent')} unacked ${f('unacked')} cwnd ${f('cwnd')} rtt ${f('rtt')} minrtt ${f('minrtt')}\n`
  }
  return out
}

/** Read/write syscalls and bytes of a process so far (/proc/<pid>/io: syscr, syscw, rchar, wchar). */
function io(pid: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const l of readFileSync(`/proc/${pid}/io`, 'utf8').split('\n')) {
    const [k, v] = l.split(': ')
    if (v !== undefined) out[k] = Number(v)
  }
  return out
}

/** Syscalls per second and bytes per syscall, read and write, between two io() readings. */
function ioRate(a: Record<string, number>, b: Record<string, number>, secs: number): string {
  const r = b.syscr - a.syscr
  const w = b.syscw - a.syscw
  const kb = (bytes: number, n: number) => (n > 0 ? (bytes / n / 1024).toFixed(1) : '-')
  return `reads ${(r / secs).toFixed(0)}/s × ${kb(b.rchar - a.rchar, r)} KiB, writes ${(w / secs).toFixed(0)}/s × ${kb(b.wchar - a.wchar, w)} KiB`
}

/** The machine's busy and total jiffies so far (all CPUs, /proc/stat): shared by every lab. */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const total = f.reduce((x, y) => x + y, 0)
  // idle and iowait are fields 4 and 5
  return { busy: total - f[3] - f[4], total }
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
  const relay = ml.node('relay1')
  const [dropsA0, dropsB0, thr0] = await Promise.all([drops(a), drops(b), throttled(relay)])
  const before = pids.map(cpuTicks)
  const io0 = pids.map(io)
  const m0 = machineTicks()
  const t0 = Date.now()
  const ss = SS
    ? new Promise<void>((r) => setTimeout(r, (DUR * 1000) / 2)).then(async () =>
        (
          await Promise.all(
            ['a', 'relay1', 'b'].map(
              async (n) => `${n}:\n${sockets((await ml.node(n).exec('ss', ['-tin'])).stdout)}`,
            ),
          )
        ).join(''),
      )
    : null
  const strace =
    STRACE !== '' && path === 'relay'
      ? new Promise<void>((r) => setTimeout(r, (DUR * 1000) / 2)).then(() =>
          ml
            .node(STRACE)
            .exec(
              'timeout',
              [
                '1',
                'strace',
                '-f',
                '-e',
                'trace=write,writev',
                '-o',
                `/tmp/${PREFIX}-strace-${Date.now()}.txt`,
                '-p',
                String(pidOf(ml.node(STRACE))),
              ],
              10_000,
            ),
        )
      : null
  const raw = await a.exec(
    'iperf3',
    ['-c', bIp, '-p', '5399', '-t', String(DUR), '-P', String(PARALLEL), '-J'],
    60_000,
  )
  const r = iperf3Received(raw)
  await strace
  const secs = (Date.now() - t0) / 1000
  const cpu = pids.map((p, i) => ((cpuTicks(p) - before[i]) / USER_HZ / secs) * 100)
  const m1 = machineTicks()
  const machineBusy = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100
  const ios = pids.map((p, i) => `${names[i]} ${ioRate(io0[i], io(p), secs)}`)
  await ping.exited
  const rtts = [...ping.output().matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y)
  const st = (await a.status()).peers.find((p) => p.name === 'b')
  const [dropsA1, dropsB1, thr1] = await Promise.all([drops(a), drops(b), throttled(relay)])
  console.log(
    `${what}: ${(r.bitsPerSecond / 1e6).toFixed(0)} Mbit/s (path ${st?.path}, expected ${path}); daemon CPU: ${names.map((n, i) => `${n} ${cpu[i].toFixed(0)} %`).join(', ')}; ping idle median ${idleRtts[idleRtts.length >> 1]} ms, under load median ${rtts[rtts.length >> 1]} ms, max ${rtts.at(-1)} ms; drops a: ${dropDiff(dropsA1, dropsA0)}, b: ${dropDiff(dropsB1, dropsB0)}; inner retransmits ${retransmits(raw.stdout)}; relay1 paused a member ${thr1 - thr0}×`,
  )
  console.log(
    `  machine ${machineBusy.toFixed(0)} % busy (all cores, every process); syscalls: ${ios.slice(0, 3).join('; ')}`,
  )
  if (ss != null) console.log(`ss -ti on a, halfway:\n${await ss}`)
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
