/**
 * Idle cost in a namespace lab (issue 14): real daemons, real TCP, every node connected to every
 * other. Benchmark, not a test: prints numbers, asserts nothing. Root.
 *
 *   node packages/e2e/bench/idle-lab.ts [--nodes 10] [--settle 60] [--measure 600]
 *                                       [--base DIR]   (a second lab, same run, with DIR's CLI)
 *                                       [--profile S]  (after the window: S s CPU profiles of n0, n1)
 *
 * One LAN segment, an owner and N-1 members (formMesh, every key allow-all); then every node pings
 * every other node's overlay address once, so each pair holds a connection (a node with N-1 peers,
 * as in packages/mesh/bench/idle.ts --connect full). After `settle` seconds the window starts. Per
 * node it reads, at both ends of the window, inside the node's namespace:
 *  - iptables counters of every TCP packet in and out, in all and by interface (the LAN's are the
 *    underlay's IP bytes: meshlan is the only TCP there; loopback's stay in the namespace), and the
 *    LAN interface's bytes (ARP, IPv6 neighbour discovery, UPnP search too);
 *  - the daemon's CPU time (/proc/PID/stat utime + stime), as a share of one core.
 * With `--base DIR` a second lab of the same size runs at the same time with the CLI of the tree
 * in DIR (a worktree of the commit before): the same machine load for both, and the same-run
 * ratio. The window should cover RECORD_REFRESH_MS (600 s) so each node's periodic record is in it
 * once.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { canRunLabs, type ExecResult, waitFor } from '@meshlan/lab'
import { DEFAULT_KEY_MAX_MEMBERS } from '@meshlan/mesh'
import { createMeshLab, formMesh, ipOf, type MeshHost, type MeshLab } from '../src/index.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    settle: { type: 'string', default: '60' },
    measure: { type: 'string', default: '600' },
    base: { type: 'string' },
    profile: { type: 'string', default: '0' },
  },
})
const N = Number(values.nodes)
const SETTLE_S = Number(values.settle)
const MEASURE_S = Number(values.measure)
const CLK_TCK = 100 // Linux USER_HZ
const COUNT = 'meshlan-idle-bench'
const CLI_TIMEOUT_MS = 180_000
const THIS_TREE = join(import.meta.dirname, '../../..')
const PROFILE_S = Number(values.profile)
const PROFILER = join(import.meta.dirname, 'cpu-profile-client.ts')

const can = canRunLabs()
if (!can.ok) {
  console.error(`idle lab benchmark skipped: ${can.reason}`)
  process.exit(0)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Runs the CLI of `tree` (another worktree for the "before" side) with a patient timeout: on a
 * shared machine `meshlan join` alone has taken over 30 s (formMesh's default).
 */
function useTree(ml: MeshLab, tree: string): void {
  const main = join(tree, 'packages/cli/src/main.ts')
  for (const [name, n] of ml.nodes) {
    const other = Object.create(n) as MeshHost
    other.run = (args, opts = {}) =>
      n.host.exec(process.execPath, [main, '--state', n.state, ...args], {
        timeoutMs: Math.max(opts.timeoutMs ?? 0, CLI_TIMEOUT_MS),
        env: { ...process.env, MESHLAN_LOG: process.env.MESHLAN_LOG ?? 'info', ...opts.env },
      })
    ml.nodes.set(name, other)
  }
}

interface Counter {
  packets: number
  bytes: number
}

interface Sample {
  tcpOut: Counter
  tcpIn: Counter
  /** The part of tcpOut / tcpIn on the LAN interface and on loopback (the rest: the TUN). */
  lanOut: Counter
  lanIn: Counter
  loOut: Counter
  loIn: Counter
  ifTx: number
  ifRx: number
  cpuS: number
  /** The main thread's voluntary context switches: each is a sleep in epoll, so one wake-up. */
  wakes: number
  /** The namespace's kernel counters (`nstat -asz`: /proc/net/snmp and netstat). */
  kernel: Map<string, number>
}

/** Kernel counters worth a line when they moved: where sent segments go that nobody receives. */
const KERNEL_COUNTERS = [
  'TcpActiveOpens',
  'TcpPassiveOpens',
  'TcpAttemptFails',
  'TcpEstabResets',
  'TcpOutRsts',
  'TcpRetransSegs',
  'TcpExtTCPSynRetrans',
  'TcpExtTCPTimeouts',
  'TcpExtTCPAbortOnTimeout',
  'TcpExtTCPLostRetransmit',
  'TcpExtListenDrops',
  'TcpExtTCPBacklogDrop',
  'IpOutNoRoutes',
  'IpInDiscards',
  'IpOutDiscards',
  'IpExtInNoRoutes',
  'IpInAddrErrors',
  'IpInHdrErrors',
  'TcpInErrs',
  'TcpExtIPReversePathFilter',
  'TcpExtPAWSEstab',
  'TcpExtTCPRcvQDrop',
  'TcpExtTCPOFODrop',
  'TcpExtTCPZeroWindowDrop',
  'TcpExtTCPSpuriousRTOs',
  'TcpExtTCPDSACKRecv',
  'TcpExtTCPDSACKOldSent',
]

async function kernelCounters(n: MeshHost): Promise<Map<string, number>> {
  const out = must(await n.exec('nstat', ['-asz']), 'nstat')
  const m = new Map<string, number>()
  for (const line of out.split('\n')) {
    const [name, value] = line.trim().split(/\s+/)
    if (name != null && value != null && !name.startsWith('#')) m.set(name, Number(value))
  }
  return m
}

/** One counter of the node's LAN interface (/sys/class/net/IF/statistics/NAME), read in its namespace. */
async function lanStat(n: MeshHost, name: string): Promise<number> {
  const ifname = n.host.iface('lan').ifname
  return Number(must(await n.exec('cat', [`/sys/class/net/${ifname}/statistics/${name}`]), 'stats').trim())
}

/** Sockets still dialling when the window ends, by destination, over the whole lab. */
async function dialling(ml: MeshLab, names: string[]): Promise<string> {
  const byDst = new Map<string, number>()
  let failedNeigh = 0
  for (const x of names) {
    const n = ml.node(x)
    const ss = must(await n.exec('ss', ['-Htan', 'state', 'syn-sent']), 'ss')
    for (const line of ss.split('\n').filter((l) => l.trim() !== '')) {
      const peer = line.trim().split(/\s+/).at(-1) ?? '?'
      byDst.set(peer, (byDst.get(peer) ?? 0) + 1)
    }
    const neigh = must(await n.exec('ip', ['-4', 'neigh', 'show', 'nud', 'failed']), 'ip neigh')
    failedNeigh += neigh.split('\n').filter((l) => l.trim() !== '').length
  }
  const top = [...byDst.entries()].sort((p, q) => q[1] - p[1]).slice(0, 10)
  return `  after the window: ${[...byDst.values()].reduce((a, b) => a + b, 0)} sockets in SYN-SENT${top.length > 0 ? ` (to ${top.map(([d, c]) => `${d}×${c}`).join(' ')})` : ''}, ${failedNeigh} FAILED neighbour entries`
}

/** Packets dropped since the lab was built: each node's LAN veth, and the switch's bridge ports. */
async function drops(ml: MeshLab, names: string[]): Promise<string> {
  let txDrop = 0
  let rxDrop = 0
  for (const x of names) {
    const n = ml.node(x)
    txDrop += await lanStat(n, 'tx_dropped')
    rxDrop += await lanStat(n, 'rx_dropped')
  }
  const sw = ml.lab.switchNamespace
  const r = await ml.node(names[0]).host.exec('ip', ['-n', sw, '-s', '-j', 'link'])
  let portTx = 0
  let portRx = 0
  for (const l of JSON.parse(r.stdout || '[]') as Array<{
    stats64?: { rx: { dropped: number }; tx: { dropped: number } }
  }>) {
    portRx += l.stats64?.rx.dropped ?? 0
    portTx += l.stats64?.tx.dropped ?? 0
  }
  const softnet = readFileSync('/proc/net/softnet_stat', 'utf8')
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + Number.parseInt(line.trim().split(/\s+/)[1], 16), 0)
  return `  drops since the lab began: node LAN veths tx ${txDrop} rx ${rxDrop}; switch ports tx ${portTx} rx ${portRx}; softnet backlog (machine, since boot) ${softnet}`
}

const must = (r: ExecResult, what: string): string => {
  if (r.code !== 0) throw new Error(`${what}: ${r.stderr}`)
  return r.stdout
}

/** Counting rules: all TCP, and TCP by interface (LAN, loopback), in and out. */
async function countTcp(n: MeshHost): Promise<void> {
  const lan = n.host.iface('lan').ifname
  for (const [chain, dir] of [
    ['INPUT', '-i'],
    ['OUTPUT', '-o'],
  ]) {
    const rules: Array<[string, string[]]> = [
      [COUNT, []],
      [`${COUNT}:lan`, [dir, lan]],
      [`${COUNT}:lo`, [dir, 'lo']],
    ]
    for (const [comment, match] of rules)
      must(
        await n.exec('iptables', [
          '-w',
          '-I',
          chain,
          '1',
          '-p',
          'tcp',
          ...match,
          '-m',
          'comment',
          '--comment',
          comment,
        ]),
        'iptables',
      )
  }
}

/** The node's daemon process (its state directory's pid file). */
const pidOf = (n: MeshHost): number => Number(readFileSync(join(n.state, 'daemon.pid'), 'utf8').trim())

async function sample(n: MeshHost): Promise<Sample> {
  const listing = async (c: string) =>
    must(await n.exec('iptables', ['-w', '-L', c, '-v', '-x', '-n']), 'iptables -L')
  const [inList, outList] = [await listing('INPUT'), await listing('OUTPUT')]
  const counter = (list: string, comment: string): Counter => {
    // the comment is printed as /* meshlan-idle-bench:lan */: match it whole
    const line = list.split('\n').find((l) => l.includes(`/* ${comment} */`)) ?? ''
    const [packets, bytes] = line.trim().split(/\s+/).map(Number)
    return { packets, bytes }
  }
  const f = readFileSync(`/proc/${pidOf(n)}/stat`, 'utf8')
    .split(') ')[1]
    .split(' ')
  // fields 14 and 15 of /proc/PID/stat (utime, stime); [0] here is field 3
  const cpuS = (Number(f[11]) + Number(f[12])) / CLK_TCK
  const task = readFileSync(`/proc/${pidOf(n)}/task/${pidOf(n)}/status`, 'utf8')
  const wakes = Number(task.match(/^voluntary_ctxt_switches:\s+(\d+)/m)?.[1] ?? Number.NaN)
  return {
    tcpOut: counter(outList, COUNT),
    tcpIn: counter(inList, COUNT),
    lanOut: counter(outList, `${COUNT}:lan`),
    lanIn: counter(inList, `${COUNT}:lan`),
    loOut: counter(outList, `${COUNT}:lo`),
    loIn: counter(inList, `${COUNT}:lo`),
    ifTx: await lanStat(n, 'tx_bytes'),
    ifRx: await lanStat(n, 'rx_bytes'),
    cpuS,
    wakes,
    kernel: await kernelCounters(n),
  }
}

/**
 * Every node pings every other node's overlay address: each pair then holds a connection. Paced
 * (CONNECT_PARALLEL dials per node at a time, each ping retried for up to CONNECT_WAIT_S): all 49
 * at once per node meant ~2,450 handshakes on two cores, over libp2p's pending-inbound cap, and a
 * 50-node lab ended with a mean of 2.6 connected peers in one run and 19.4 in another. A second
 * pass pings the pairs still without a path.
 */
const CONNECT_PARALLEL = 4
const CONNECT_WAIT_S = 20
async function connectAll(ml: MeshLab, names: string[]): Promise<void> {
  const ips = await Promise.all(names.map((x) => ipOf(ml.node(x))))
  const pingAll = (x: string, targets: string[]) =>
    targets.length === 0
      ? Promise.resolve()
      : ml
          .node(x)
          .exec(
            'sh',
            [
              '-c',
              `printf '%s\\n' ${targets.join(' ')} | xargs -P ${CONNECT_PARALLEL} -I@ ping -c 1 -w ${CONNECT_WAIT_S} -q @ >/dev/null 2>&1; true`,
            ],
            CLI_TIMEOUT_MS * 2,
          )
  await Promise.all(
    names.map((x, i) =>
      pingAll(
        x,
        ips.filter((_, j) => j !== i),
      ),
    ),
  )
  const missing = async (x: string, i: number) => {
    const s = await ml.node(x).status()
    const connected = new Set(s.peers.filter((p) => p.path !== 'none').map((p) => p.ip))
    return ips.filter((ip, j) => j !== i && !connected.has(ip))
  }
  const again = await Promise.all(names.map(missing))
  await Promise.all(names.map((x, i) => pingAll(x, again[i])))
}

/**
 * Every node gets a permanent ARP entry for every other. The kernel's neighbour table is one table
 * for all namespaces, capped at net.ipv4.neigh.default.gc_thresh3 (1024 here, settable only in the
 * machine's own namespace): 50 hosts on one LAN need 2,450 entries, and past the cap the kernel
 * drops a packet whose neighbour it cannot create — after iptables counted it, before the veth
 * did (session 10: "sent" TCP 1.5–2× what any node received; the machine's arp_cache table_fulls
 * counter at 207,591). On a real LAN each machine has its own table; permanent entries are not
 * counted against the cap (kernel ≥ 4.19), so the lab behaves like one.
 */
async function staticNeighbours(ml: MeshLab, names: string[]): Promise<void> {
  const hosts = await Promise.all(
    names.map(async (x) => {
      const h = ml.node(x).host
      const ifname = h.iface('lan').ifname
      const mac = must(await h.exec('cat', [`/sys/class/net/${ifname}/address`]), 'mac').trim()
      return { x, h, ifname, ip: h.address('lan'), mac }
    }),
  )
  for (const me of hosts) {
    const lines = hosts
      .filter((o) => o.x !== me.x)
      .map((o) => `neigh replace ${o.ip} lladdr ${o.mac} dev ${me.ifname} nud permanent`)
    must(await me.h.exec('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` }), 'ip -batch neigh')
  }
}

/** The machine's neighbour-table counters (one table for every namespace: read, never written). */
function neighbourTable(): { tableFulls: number; unresolved: number } {
  const lines = readFileSync('/proc/net/stat/arp_cache', 'utf8').trim().split('\n')
  const cols = lines[0].trim().split(/\s+/)
  let tableFulls = 0
  let unresolved = 0
  for (const line of lines.slice(1)) {
    const v = line.trim().split(/\s+/)
    tableFulls += Number.parseInt(v[cols.indexOf('table_fulls')], 16)
    unresolved += Number.parseInt(v[cols.indexOf('unresolved_discards')], 16)
  }
  return { tableFulls, unresolved }
}

async function build(prefix: string, tree?: string): Promise<{ ml: MeshLab; names: string[] }> {
  const names = Array.from({ length: N }, (_, i) => `n${i}`)
  const ml = await createMeshLab({ prefix, hosts: names })
  useTree(ml, tree ?? THIS_TREE)
  await staticNeighbours(ml, names)
  // A reusable key admits DEFAULT_KEY_MAX_MEMBERS (32) nodes: members take one allow-all key per
  // 32, as an owner of that many machines would (a key per class of devices).
  const keyOf = (i: number) => `all${Math.floor(i / DEFAULT_KEY_MAX_MEMBERS)}`
  const members = Object.fromEntries(names.slice(1).map((x, i) => [x, keyOf(i)]))
  const keys = Object.fromEntries(Object.values(members).map((k) => [k, null]))
  // formMesh waits 30 s for every node to see every other: a loaded machine may need longer
  await formMesh(ml, { owner: names[0], keys, members }).catch(async (err: Error) => {
    if (!/every node to see every other node/.test(err.message)) throw err
    const short = new Map<string, number>()
    await waitFor(
      async () => {
        for (const x of names) {
          const seen = (await ml.node(x).status()).peers.length
          if (seen < N - 1) short.set(x, seen)
          else short.delete(x)
        }
        return short.size === 0
      },
      { timeoutMs: CLI_TIMEOUT_MS, intervalMs: 2000, what: 'every node to see every other (patient)' },
    ).catch((e: Error) => {
      // which nodes were short, and by how much: a lab that does not converge is a finding
      const list = [...short].map(([x, n]) => `${x}:${n}`).join(' ')
      throw new Error(`${e.message}; peers seen by the nodes short of ${N - 1}: ${list}`)
    })
  })
  await connectAll(ml, names)
  for (const x of names) await countTcp(ml.node(x))
  return { ml, names }
}

function report(
  label: string,
  names: string[],
  a: Sample[],
  b: Sample[],
  secs: number,
  peers: number[],
): string {
  const per = (f: (s: Sample) => number) => names.map((_, i) => (f(b[i]) - f(a[i])) / secs)
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length
  const tcpTx = per((s) => s.tcpOut.bytes)
  const tcpRx = per((s) => s.tcpIn.bytes)
  const pkts = per((s) => s.tcpOut.packets + s.tcpIn.packets)
  const lanTx = per((s) => s.lanOut.bytes)
  const lanRx = per((s) => s.lanIn.bytes)
  const loTx = per((s) => s.loOut.bytes)
  const loRx = per((s) => s.loIn.bytes)
  const ifTx = per((s) => s.ifTx)
  const ifRx = per((s) => s.ifRx)
  const cpu = per((s) => s.cpuS).map((x) => x * 100)
  const wakes = per((s) => s.wakes)
  const f = (x: number) => x.toFixed(0).padStart(7)
  const lines = [
    `${label}: ${names.length} daemons, connected peers per node min ${Math.min(...peers)} mean ${mean(peers).toFixed(1)} max ${Math.max(...peers)}, ${secs.toFixed(0)} s window`,
    `  TCP (IP bytes/s)    tx mean ${f(mean(tcpTx))} max ${f(Math.max(...tcpTx))} | rx mean ${f(mean(tcpRx))} max ${f(Math.max(...tcpRx))} | packets/s ${mean(pkts).toFixed(1)}`,
    `    of which LAN      tx mean ${f(mean(lanTx))} | rx mean ${f(mean(lanRx))}   (the underlay)`,
    `    of which loopback tx mean ${f(mean(loTx))} | rx mean ${f(mean(loRx))}   (the rest: the TUN)`,
    `  owner (n0)          tx ${f(tcpTx[0])} rx ${f(tcpRx[0])}, LAN tx ${f(lanTx[0])} rx ${f(lanRx[0])}`,
    `  interface (bytes/s) tx mean ${f(mean(ifTx))} | rx mean ${f(mean(ifRx))}`,
    `  CPU per daemon      mean ${mean(cpu).toFixed(3)}% max ${Math.max(...cpu).toFixed(3)}% of a core`,
    `  wake-ups per daemon mean ${mean(wakes).toFixed(2)}/s max ${Math.max(...wakes).toFixed(2)}/s (main thread, voluntary switches)`,
  ]
  // lab-wide kernel counters that moved in the window, per second, and the node that moved most
  const moved: string[] = []
  for (const c of ['IpOutRequests', 'IpInReceives', 'TcpOutSegs', 'TcpInSegs', ...KERNEL_COUNTERS]) {
    const d = names.map((_, i) => (b[i].kernel.get(c) ?? 0) - (a[i].kernel.get(c) ?? 0))
    const sum = d.reduce((x, y) => x + y, 0)
    if (sum === 0) continue
    const top = d.indexOf(Math.max(...d))
    moved.push(`${c} ${(sum / secs).toFixed(2)}/s (most: ${names[top]} ${d[top]})`)
  }
  lines.push(`  kernel, whole lab   ${moved.join(', ')}`)
  return lines.join('\n')
}

const sides: Array<{ label: string; prefix: string; tree?: string }> = [{ label: 'this tree', prefix: 'mia' }]
if (values.base != null) sides.push({ label: `base ${values.base}`, prefix: 'mib', tree: values.base })
const labs: Array<{ label: string; ml: MeshLab; names: string[] }> = []
try {
  for (const s of sides) {
    const t0 = Date.now()
    const { ml, names } = await build(s.prefix, s.tree)
    labs.push({ label: s.label, ml, names })
    console.log(
      `# ${s.label}: ${N} daemons formed and connected in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    )
  }
  await sleep(SETTLE_S * 1000)
  const table0 = neighbourTable()
  const before = await Promise.all(labs.map((l) => Promise.all(l.names.map((x) => sample(l.ml.node(x))))))
  const w0 = performance.now()
  await sleep(MEASURE_S * 1000)
  const after = await Promise.all(labs.map((l) => Promise.all(l.names.map((x) => sample(l.ml.node(x))))))
  const secs = (performance.now() - w0) / 1000
  const table1 = neighbourTable()
  console.log(
    `# the machine's neighbour table in the window (all namespaces): full ${table1.tableFulls - table0.tableFulls}×, packets dropped unresolved ${table1.unresolved - table0.unresolved}`,
  )
  for (const [i, l] of labs.entries()) {
    const peers = await Promise.all(
      l.names.map(async (x) => (await l.ml.node(x).status()).peers.filter((p) => p.path !== 'none').length),
    )
    console.log(report(l.label, l.names, before[i], after[i], secs, peers))
    console.log(await dialling(l.ml, l.names))
    console.log(await drops(l.ml, l.names))
  }
  // Where an idle daemon's time goes: SIGUSR1 opens its inspector on the namespace's loopback,
  // cpu-profile-client.ts samples it (after the window, so the numbers above are unprofiled).
  if (PROFILE_S > 0) {
    const l = labs[0]
    await Promise.all(
      ['n0', 'n1'].map(async (x) => {
        const n = l.ml.node(x)
        n.host.kill(pidOf(n), 'SIGUSR1')
        await sleep(500)
        const out = `/tmp/meshlan-idle-${x}-${Date.now()}.cpuprofile`
        const r = await n.exec(
          process.execPath,
          [PROFILER, '9229', String(PROFILE_S * 1000), out],
          PROFILE_S * 1000 + 60_000,
        )
        console.log(`# profile of ${x} (${PROFILE_S} s, ${out})\n${r.stdout}${r.stderr}`)
      }),
    )
  }
} finally {
  for (const l of labs) await l.ml.teardown()
}
process.exit(0)
