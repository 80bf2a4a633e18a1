// What a wake-up costs a Node process on this machine (issue 14: idle ping, idle CPU).
//   node wake-cost.mjs cold                      fixed JS work after 0/1/10/100 ms of sleep
//   node wake-cost.mjs server PORT               UDP echo
//   node wake-cost.mjs client IP PORT N GAP_MS   N echoes, GAP_MS apart: RTT avg/p50/p99 (µs)
import dgram from 'node:dgram'

const [mode, ...args] = process.argv.slice(2)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const us = (t0) => Number(process.hrtime.bigint() - t0) / 1000
const stats = (d) => {
  d.sort((a, b) => a - b)
  const avg = d.reduce((x, y) => x + y, 0) / d.length
  return `avg ${avg.toFixed(0)} µs, p50 ${d[d.length >> 1].toFixed(0)}, p99 ${d[Math.floor(d.length * 0.99)].toFixed(0)}`
}

if (mode === 'cold') {
  // ~1 MiB of small objects walked: about what one tunnel packet's path touches in the daemon
  const objs = Array.from({ length: 8192 }, (_, i) => ({ a: i, b: [i, i + 1], c: `x${i}` }))
  const work = () => objs.reduce((s, o) => s + o.a + o.b[1] + o.c.length, 0)
  for (let i = 0; i < 200; i++) work()
  for (const ms of [0, 1, 10, 100]) {
    const d = []
    for (let i = 0; i < 40; i++) {
      await sleep(ms)
      const t0 = process.hrtime.bigint()
      work()
      d.push(us(t0))
    }
    console.log(`same JS work after ${String(ms).padStart(3)} ms asleep: ${stats(d)}`)
  }
} else if (mode === 'server') {
  const s = dgram.createSocket('udp4')
  s.on('message', (m, r) => s.send(m, r.port, r.address))
  s.bind(Number(args[0]))
} else if (mode === 'client') {
  const [ip, port, n, gap] = [args[0], Number(args[1]), Number(args[2]), Number(args[3])]
  const s = dgram.createSocket('udp4')
  const d = []
  let t0 = 0n
  const send = () => {
    t0 = process.hrtime.bigint()
    s.send('x', port, ip)
  }
  s.on('message', () => {
    d.push(us(t0))
    if (d.length === n) {
      console.log(stats(d))
      process.exit(0)
    }
    setTimeout(send, gap)
  })
  s.bind(() => setTimeout(send, 100))
} else {
  console.error('usage: wake-cost.mjs cold | server PORT | client IP PORT N GAP_MS')
  process.exit(2)
}
