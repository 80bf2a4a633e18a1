/**
 * A long-lived TCP connection inside the tunnel, to prove a path change never breaks a flow
 * (nat-path-change.test.ts). The sender writes a byte pattern (byte i = i mod 251) at a fixed
 * rate; the receiver checks every byte, logs its running total every 100 ms, and reports how the
 * connection ended: `END <bytes> bad=<n>` on a clean close, `ERROR <code>` on a reset or error.
 * Both are `node -e` scripts run in the lab hosts' namespaces (no files, no dependencies).
 */
import { waitFor } from '@meshlan/lab'
import type { MeshHost } from '../src/index.ts'

/** Progress lines are printed this often by the receiver (ms). */
export const PROBE_TICK_MS = 100

const RECEIVER = `
const net = require('node:net')
const [ip, port] = process.argv.slice(1)
let bytes = 0, bad = 0, ended = false
const srv = net.createServer((s) => {
  srv.close()
  const t = setInterval(() => console.log('T ' + Date.now() + ' ' + bytes), ${PROBE_TICK_MS})
  s.on('data', (d) => { for (let i = 0; i < d.length; i++) { if (d[i] !== (bytes + i) % 251) bad++ } bytes += d.length })
  s.on('error', (e) => { clearInterval(t); console.log('ERROR ' + (e.code || e.message)); process.exit(1) })
  s.on('end', () => { clearInterval(t); ended = true; console.log('END ' + bytes + ' bad=' + bad); s.end(); process.exit(0) })
})
srv.listen(Number(port), ip, () => console.log('LISTENING'))
`

const SENDER = `
const net = require('node:net')
const [ip, port, bytesPerTick] = process.argv.slice(1)
const n = Number(bytesPerTick)
let sent = 0
const s = net.connect(Number(port), ip, () => {
  console.log('CONNECTED')
  const t = setInterval(() => {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = (sent + i) % 251
    sent += n
    s.write(b)
  }, 10)
  process.on('SIGTERM', () => { clearInterval(t); s.end(() => { console.log('SENT ' + sent); process.exit(0) }) })
})
s.on('error', (e) => { console.log('ERROR ' + (e.code || e.message)); process.exit(1) })
`

export interface FlowProbe {
  /** Bytes the receiver has counted so far (its last progress line). */
  received(): number
  /** Arrival log: [epoch ms, total bytes] per receiver tick. */
  ticks(): Array<[number, number]>
  /** Longest time (ms) the receiver's total stood still between `from` and `to` (epoch ms). */
  longestStall(from: number, to: number): number
  /** Ends the flow cleanly; resolves with what each side says. */
  finish(): Promise<{ sent: number; received: number; bad: number; senderOut: string; receiverOut: string }>
  /** Any error either side printed so far (null: none). */
  error(): string | null
}

/** Starts the receiver on `to` (listening on `toIp`) and the sender on `from`, at `bytesPerSec`. */
export async function startFlowProbe(
  from: MeshHost,
  to: MeshHost,
  toIp: string,
  port: number,
  bytesPerSec: number,
): Promise<FlowProbe> {
  const rx = to.host.spawn(process.execPath, ['-e', RECEIVER, toIp, String(port)])
  await rx.waitForOutput('LISTENING', 10_000)
  const tx = from.host.spawn(process.execPath, ['-e', SENDER, toIp, String(port), String(bytesPerSec / 100)])
  await tx.waitForOutput('CONNECTED', 10_000)
  const ticks = (): Array<[number, number]> =>
    [...rx.output().matchAll(/^T (\d+) (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])])
  const error = (): string | null =>
    /^ERROR .*$/m.exec(rx.output())?.[0] ?? /^ERROR .*$/m.exec(tx.output())?.[0] ?? null
  return {
    received: () => ticks().at(-1)?.[1] ?? 0,
    ticks,
    error,
    longestStall(fromMs, toMs) {
      const ts = ticks().filter(([t]) => t >= fromMs && t <= toMs)
      let stall = 0
      let since = ts[0]?.[0] ?? fromMs
      for (let i = 1; i < ts.length; i++) {
        if (ts[i][1] > ts[i - 1][1]) since = ts[i][0]
        else stall = Math.max(stall, ts[i][0] - since)
      }
      return stall
    },
    async finish() {
      tx.kill('SIGTERM')
      await waitFor(() => /^(END|ERROR) /m.test(rx.output()), { timeoutMs: 15_000, what: 'the flow to end' })
      await tx.exited
      const end = /^END (\d+) bad=(\d+)$/m.exec(rx.output())
      return {
        sent: Number(/^SENT (\d+)$/m.exec(tx.output())?.[1] ?? -1),
        received: Number(end?.[1] ?? -1),
        bad: Number(end?.[2] ?? -1),
        senderOut: tx.output().slice(-500),
        receiverOut: rx.output().slice(-500),
      }
    },
  }
}
