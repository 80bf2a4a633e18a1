/**
 * Idle cost (issue 14): what an idle mesh of N nodes costs each node on the underlay, and in CPU.
 *
 *   node packages/mesh/bench/idle.ts [--nodes 50] [--settle 30] [--measure 600] [--connect full|star]
 *   (or IDLE_NODES, IDLE_SETTLE_S, IDLE_MEASURE_S, IDLE_CONNECT)
 *
 * An owner and N-1 members over the in-process memory transport (test/helpers.ts buildMesh), all
 * converged and bound. `--connect full` (the default) then has every node connect to every other,
 * as after each pair exchanged traffic once: the case "a node with N-1 peers". `star` leaves the
 * bootstrap topology (everyone connected to the owner only). After `settle` seconds every counter
 * is zeroed and `measure` seconds are counted (idle-counter.ts): per protocol the yamux frames and
 * bytes each node sends; per node the raw (Noise) bytes and messages it sends and receives. The
 * window defaults to RECORD_REFRESH_MS: each node's periodic record then falls in it exactly once
 * (a shorter one counts anything from none to all of them).
 *
 * On-wire bytes: the raw bytes are measured (Noise ciphertext: 2-byte length + 16-byte tag per
 * message included). TCP/IP is ESTIMATED: 52 bytes per Noise message (IPv4 20 + TCP 20 + the
 * timestamp option 12), each message taken as its own segment (TCP_NODELAY; an upper bound), plus
 * a pure ACK (52 bytes) for every second segment received (delayed ACK; replies that piggyback an
 * ACK make this an overestimate too). CPU is the process's user+system time over the window, divided
 * by N; the memory transport skips the kernel's TCP work, which a real node also pays.
 * Prints numbers; asserts nothing.
 */
import { parseArgs } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { RECORD_REFRESH_MS } from '../src/constants.ts'
import type { MeshNode } from '../src/node.ts'
import { buildMesh, until, waitConverged } from '../test/helpers.ts'
import { IdleCounter, type Tally } from './idle-counter.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: process.env.IDLE_NODES ?? '50' },
    settle: { type: 'string', default: process.env.IDLE_SETTLE_S ?? '30' },
    measure: { type: 'string', default: process.env.IDLE_MEASURE_S ?? String(RECORD_REFRESH_MS / 1000) },
    connect: { type: 'string', default: process.env.IDLE_CONNECT ?? 'full' },
  },
})
const N = Number(values.nodes)
const SETTLE_S = Number(values.settle)
const MEASURE_S = Number(values.measure)
const FULL = values.connect !== 'star'
const TCPIP = 52

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const counter = new IdleCounter()

function hookAll(node: MeshNode): void {
  const lp = node.libp2pNode
  for (const c of lp.getConnections()) counter.hook(node.peerId, c)
  lp.addEventListener('connection:open', (e) => counter.hook(node.peerId, e.detail))
}

/**
 * Every node dials every node after it in the list, one dial at a time per node, in rounds until
 * the mesh is full: a listener admits INBOUND_CONNECTION_RATE new connections a second, so a
 * round's late dials time out and the next round retries them.
 */
async function connectFully(all: MeshNode[]): Promise<void> {
  const peersOf = (n: MeshNode) => new Set(n.libp2pNode.getConnections().map((c) => c.remotePeer.toString()))
  for (let round = 0; round < 20; round++) {
    let failed = 0
    await Promise.all(
      all.map(async (a, i) => {
        for (const b of all.slice(i + 1)) {
          if (peersOf(a).has(b.peerId)) continue
          await a.libp2pNode.dial(peerIdFromString(b.peerId)).catch(() => failed++)
        }
      }),
    )
    if (all.every((n) => peersOf(n).size >= N - 1)) return
    console.log(`# connect round ${round}: ${failed} dials failed, retrying`)
  }
  await until(() => all.every((n) => peersOf(n).size >= N - 1), 30_000, 'a full mesh of connections')
}

const t0 = Date.now()
const mesh = await buildMesh({
  members: Array.from({ length: N - 1 }, (_, i) => ({ name: `node-${i}`, key: 'admin' })),
  keys: { admin: { rules: [{ to: ['*'] }] } },
  maxMembers: N,
})
const all = [mesh.owner, ...mesh.nodes]
for (const n of all) hookAll(n)
await waitConverged(all, N - 1, 180_000)
console.log(`# ${N} nodes converged in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
if (FULL) {
  await connectFully(all)
  console.log(`# full mesh of connections after ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}
await sleep(SETTLE_S * 1000)
counter.reset()
const cpu0 = process.cpuUsage()
const w0 = performance.now()
await sleep(MEASURE_S * 1000)
const cpu = process.cpuUsage(cpu0)
const secs = (performance.now() - w0) / 1000
const links = counter.links.map((l) => ({ ...l, byProtocol: new Map(l.byProtocol), raw: { ...l.raw } }))
const conns = all.map((n) => new Set(n.libp2pNode.getConnections().map((c) => c.remotePeer.toString())).size)
await mesh.stop()

// ---- report ----------------------------------------------------------------------------------------
const byProto = new Map<string, Tally>()
for (const l of links)
  for (const [p, t] of l.byProtocol) {
    const s = byProto.get(p) ?? { frames: 0, bytes: 0, controlFrames: 0 }
    s.frames += t.frames
    s.bytes += t.bytes
    s.controlFrames += t.controlFrames
    byProto.set(p, s)
  }
const perNode = (x: number) => x / N / secs
console.log(
  `\n${N} nodes (${FULL ? 'full mesh' : 'star'}; connected peers per node: min ${Math.min(...conns)}, max ${Math.max(...conns)}), ` +
    `measured ${secs.toFixed(0)} s after ${SETTLE_S} s of settling; ${counter.unhooked} connections not hooked\n`,
)
console.log('per node, sent (= received, on average): yamux frames by protocol')
console.log('protocol                                          frames/s  ctl/s   bytes/s  est. wire B/s')
const rows = [...byProto.entries()].sort((a, b) => b[1].bytes - a[1].bytes)
let sumFrames = 0
let sumBytes = 0
for (const [p, t] of rows) {
  sumFrames += t.frames
  sumBytes += t.bytes
  // each frame its own Noise message and segment, and half an ACK back: an upper bound
  const wire = t.bytes + t.frames * (18 + TCPIP * 1.5)
  console.log(
    `${p.padEnd(48)} ${perNode(t.frames).toFixed(2).padStart(9)} ${perNode(t.controlFrames).toFixed(2).padStart(6)} ` +
      `${perNode(t.bytes).toFixed(0).padStart(9)} ${perNode(wire).toFixed(0).padStart(14)}`,
  )
}
console.log(
  `${'all yamux frames'.padEnd(48)} ${perNode(sumFrames).toFixed(2).padStart(9)} ${''.padStart(6)} ${perNode(sumBytes).toFixed(0).padStart(9)}`,
)

const tx = new Map<string, { messages: number; bytes: number }>()
const rx = new Map<string, { messages: number; bytes: number }>()
for (const l of links) {
  for (const [m, k] of [
    [tx, l.from],
    [rx, l.to],
  ] as const) {
    const e = m.get(k) ?? { messages: 0, bytes: 0 }
    e.messages += l.raw.messages
    e.bytes += l.raw.bytes
    m.set(k, e)
  }
}
const zero = { messages: 0, bytes: 0 }
const wireOf = (id: string) => {
  const t = tx.get(id) ?? zero
  const r = rx.get(id) ?? zero
  return {
    noiseTx: t.bytes / secs,
    noiseRx: r.bytes / secs,
    msgs: (t.messages + r.messages) / secs,
    wireTx: (t.bytes + TCPIP * t.messages + TCPIP * 0.5 * r.messages) / secs,
    wireRx: (r.bytes + TCPIP * r.messages + TCPIP * 0.5 * t.messages) / secs,
  }
}
const stats = (ids: string[]) => {
  const w = ids.map(wireOf)
  const mean = (f: (x: (typeof w)[number]) => number) => w.reduce((a, x) => a + f(x), 0) / w.length
  const max = (f: (x: (typeof w)[number]) => number) => Math.max(...w.map(f))
  const f = (x: number) => x.toFixed(0).padStart(8)
  return (
    `noise tx ${f(mean((x) => x.noiseTx))} rx ${f(mean((x) => x.noiseRx))} | msgs/s ${f(mean((x) => x.msgs))} | ` +
    `est. wire tx ${f(mean((x) => x.wireTx))} rx ${f(mean((x) => x.wireRx))} B/s (max tx ${max((x) => x.wireTx).toFixed(0)}, rx ${max((x) => x.wireRx).toFixed(0)})`
  )
}
console.log('\nper node totals (bytes/s; noise = measured ciphertext, wire = + estimated TCP/IP and ACKs)')
console.log(`owner         ${stats([mesh.owner.peerId])}`)
console.log(`members mean  ${stats(mesh.nodes.map((n) => n.peerId))}`)
console.log(`all mean      ${stats(all.map((n) => n.peerId))}`)
const cpuS = (cpu.user + cpu.system) / 1e6
console.log(
  `\nCPU: ${cpuS.toFixed(2)} s over ${secs.toFixed(0)} s for ${N} nodes = ${((cpuS / secs / N) * 100).toFixed(3)}% of a core per node (in-process: no kernel TCP)`,
)
process.exit(0)
