/**
 * Micro-benchmark (not a test): read and write packets/s with 1400-byte packets, and TCP
 * throughput through a JS relay with and without offload. Needs root; creates its own network
 * namespaces (prefix mlbench<pid>) and removes them at the end.
 *
 *   node bench/tun-bench.ts [seconds]
 *
 * Read/write: a writer process writes UDP packets 10.146.1.2 → 10.146.2.2 into TUN W
 * (writeBatch, 64 per call); the kernel forwards them to TUN R, which a reader process reads in
 * batches. Both run in one namespace with ip_forward on.
 * TCP: iperf3 between two namespaces through test/fixtures/relay.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { openTun } from '../src/index.ts'
import { addNetns, delNetns, labUnavailable, runInNetns, say } from '../test/fixtures/lab.ts'
import { tcpSuperPacket4, udp4 } from '../test/fixtures/packets.ts'

const PACKET = 1400
const self = fileURLToPath(import.meta.url)
const relayFixture = fileURLToPath(new URL('../test/fixtures/relay.ts', import.meta.url))
const role = process.argv[2]

if (role === '--reader') reader()
else if (role === '--writer') writer(Number(process.argv[3]), process.argv[4] === 'gso')
else await main(Number(process.argv[2] ?? 3))

function reader(): void {
  const tun = openTun({ name: 'mlbenchR', address: '10.146.2.1/24' })
  const samples: [number, number][] = []
  tun.start((batch) => {
    // Touch every packet length, as a consumer would.
    let bytes = 0
    for (let i = 0; i < batch.count; i++) bytes += batch.lengths[i]
    if (bytes < 0) console.log(bytes)
  })
  const timer = setInterval(() => samples.push([performance.now(), tun.stats.rxPackets]), 100)
  say({ type: 'ready' })
  process.stdin.on('data', () => {
    clearInterval(timer)
    // Rate over the busy window, without its first and last sample.
    const busy = samples.filter((s, i) => i > 0 && s[1] > samples[i - 1][1])
    const w = busy.slice(1, -1)
    const pps = w.length >= 2 ? ((w[w.length - 1][1] - w[0][1]) * 1000) / (w[w.length - 1][0] - w[0][0]) : 0
    const kernelDrops = Number(readFileSync(`/sys/class/net/${tun.name}/statistics/tx_dropped`, 'utf8'))
    const s = tun.stats
    say({ type: 'result', pps, rxPackets: s.rxPackets, perBatch: s.rxPackets / s.rxBatches, kernelDrops })
    tun.close()
    process.exit(0)
  })
}

/**
 * Plain: 1400-byte UDP packets. gso: TCP super-packets (~64 KB, vnet header) into an offload TUN,
 * which the kernel forwards and segments into 1400-byte packets for the reader: a generator
 * cheap enough to saturate the reader.
 */
function writer(seconds: number, gso: boolean): void {
  const tun = openTun({ name: 'mlbenchW', address: '10.146.1.1/24', offload: gso })
  const one = gso
    ? tcpSuperPacket4({
        src: '10.146.1.2',
        dst: '10.146.2.2',
        sport: 4000,
        dport: 9,
        seq: 1,
        flags: 0x10,
        mss: PACKET - 40,
        payload: new Uint8Array((PACKET - 40) * 46).fill(7),
      })
    : udp4('10.146.1.2', '10.146.2.2', 4000, 9, new Uint8Array(PACKET - 28).fill(7))
  const n = gso ? 4 : 64
  const slab = new Uint8Array(n * one.length)
  const offsets = new Uint32Array(n)
  const lengths = new Uint32Array(n).fill(one.length)
  for (let i = 0; i < n; i++) {
    slab.set(one, i * one.length)
    offsets[i] = i * one.length
  }
  const start = performance.now()
  const end = start + seconds * 1000
  let written = 0
  let now = start
  while (now < end) {
    for (let k = 0; k < 16; k++) written += tun.writeBatch(slab, offsets, lengths, n)
    now = performance.now()
  }
  const s = tun.stats
  const perWrite = gso ? 46 : 1
  say({ type: 'result', pps: (written * perWrite * 1000) / (now - start), written, drops: s.txDrops })
  tun.close()
}

function iperf(ns1: string, ns2: string, offload: boolean, prefix: string, seconds: number) {
  const relay = runInNetns(ns1, relayFixture, [ns2, offload ? '1' : '0', offload ? '1' : '0', prefix])
  return relay
    .next('ready')
    .then(() => {
      execFileSync('ip', ['netns', 'exec', ns2, 'iperf3', '-s', '-1', '-D', '-B', `${prefix}.2`])
      spawnSync('sleep', ['0.3'])
      const out = execFileSync(
        'ip',
        ['netns', 'exec', ns1, 'iperf3', '-c', `${prefix}.2`, '-t', String(seconds), '-J'],
        {
          encoding: 'utf8',
        },
      )
      const j = JSON.parse(out)
      return j.end.sum_received.bits_per_second / 1e9
    })
    .finally(async () => {
      relay.kill()
      await relay.exited
    })
}

async function main(seconds: number): Promise<void> {
  const skip = labUnavailable()
  if (skip) {
    console.log(`tun-bench skipped: ${skip}`)
    return
  }
  const ns = `mlbench${process.pid}`
  const ns1 = `mlbencha${process.pid}`
  const ns2 = `mlbenchb${process.pid}`
  try {
    addNetns(ns)
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const fmt = (n: number) =>
      `${Math.round(n).toLocaleString('en-US')} packets/s (${((n * PACKET * 8) / 1e9).toFixed(2)} Gbit/s)`
    console.log(`packet size ${PACKET} bytes, ${seconds} s per run, node ${process.version}, ${process.arch}`)
    for (const mode of ['plain', 'gso']) {
      const r = runInNetns(ns, self, ['--reader'])
      await r.next('ready')
      const w = runInNetns(ns, self, ['--writer', String(seconds), mode])
      const wr = await w.next('result')
      r.send('stop')
      const rr = await r.next('result')
      await Promise.all([r.exited, w.exited])
      const what =
        mode === 'plain' ? 'writer: 1400-byte packets, writeBatch of 64' : 'writer: 64 KB TSO super-packets'
      console.log(`${what}`)
      console.log(`  write: ${fmt(wr.pps as number)}, drops ${wr.drops}`)
      console.log(
        `  read : ${fmt(rr.pps as number)}, ${(rr.perBatch as number).toFixed(1)} packets/batch, ` +
          `kernel queue drops ${rr.kernelDrops}`,
      )
    }
    const hasIperf = spawnSync('iperf3', ['--version']).status === 0
    if (hasIperf) {
      addNetns(ns1)
      addNetns(ns2)
      const plain = await iperf(ns1, ns2, false, '10.147.0', seconds)
      const off = await iperf(ns1, ns2, true, '10.148.0', seconds)
      console.log(
        `tcp through a JS relay (iperf3): plain ${plain.toFixed(2)} Gbit/s, offload ${off.toFixed(2)} Gbit/s`,
      )
    }
  } finally {
    delNetns(ns)
    delNetns(ns1)
    delNetns(ns2)
  }
}
