/**
 * Resolver throughput: in-process `query()` and UDP round trips on 127.0.0.1 (a window of
 * outstanding queries from one socket). Prints numbers; asserts nothing.
 *
 *   node bench/resolver.ts
 */
import { createSocket } from 'node:dgram'
import { Packet } from 'dns2'
import { createResolver } from '../src/index.ts'

const names: Record<string, string> = {}
for (let i = 0; i < 1000; i++) names[`n${i}`] = `10.144.${i >> 8}.${(i & 255) + 1}`
const source = {
  lookupName: (n: string) => names[n] ?? null,
  lookupIp: () => null,
  selfIp: () => '10.144.0.1',
  networkName: () => 'home',
}

function query(name: string, id: number): Buffer {
  const p = new Packet()
  p.header.id = id
  p.header.rd = 1
  p.questions.push({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN } as never)
  return p.toBuffer()
}

const r = createResolver({ listen: ['127.0.0.1'], port: 0, rateLimit: false }, { names: source })
await r.start()
const port = r.addresses()[0].udpPort!

const qs = Array.from({ length: 1000 }, (_, i) => query(i % 10 === 0 ? `nosuch${i}.mesh` : `n${i}.mesh`, i))
let t0 = performance.now()
const N = 50_000
for (let i = 0; i < N; i++) await r.query(qs[i % qs.length], 'udp', '127.0.0.1')
let dt = performance.now() - t0
console.log(
  `query() in-process: ${Math.round(N / (dt / 1000))} queries/s (${((dt * 1000) / N).toFixed(1)} µs each)`,
)

const sock = createSocket('udp4')
await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
const WINDOW = 64
const M = 50_000
let sent = 0
let got = 0
t0 = performance.now()
await new Promise<void>((resolve) => {
  sock.on('message', () => {
    got++
    if (got === M) resolve()
    else if (sent < M) sock.send(qs[sent++ % qs.length], port, '127.0.0.1')
  })
  for (; sent < WINDOW; ) sock.send(qs[sent++ % qs.length], port, '127.0.0.1')
})
dt = performance.now() - t0
console.log(`udp round trips (window ${WINDOW}): ${Math.round(M / (dt / 1000))} queries/s`)
sock.close()
await r.stop()
