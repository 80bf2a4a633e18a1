/**
 * Run inside a lab host's namespace (`node cpu-profile-client.ts PORT MS OUT`): takes a CPU profile
 * of the Node process whose inspector listens on 127.0.0.1:PORT (opened by SIGUSR1) for MS ms over
 * the DevTools protocol, writes it to OUT (.cpuprofile) and prints the 25 functions with the most
 * self time. Used by relay-profile.ts; loopback inside the namespace only.
 */
import { writeFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}

const [port, ms, out] = process.argv.slice(2)
const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
  webSocketDebuggerUrl: string
}>
const ws = new WebSocket(list[0].webSocketDebuggerUrl)
await new Promise((r) => ws.addEventListener('open', r, { once: true }))
let id = 0
const pending = new Map<number, (v: unknown) => void>()
ws.addEventListener('message', (evt) => {
  const m = JSON.parse(String(evt.data)) as { id?: number; result?: unknown }
  if (m.id != null) pending.get(m.id)?.(m.result)
})
const call = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve) => {
    const n = ++id
    pending.set(n, resolve)
    ws.send(JSON.stringify({ id: n, method, params }))
  })
await call('Profiler.enable')
await call('Profiler.setSamplingInterval', { interval: 200 })
await call('Profiler.start')
await new Promise((r) => setTimeout(r, Number(ms)))
const { profile } = (await call('Profiler.stop')) as { profile: { nodes: ProfileNode[] } }
writeFileSync(out, JSON.stringify(profile))
ws.close()
const self = new Map<string, number>()
let total = 0
for (const n of profile.nodes) {
  const f = n.callFrame
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/node_modules/').pop()?.split('/dist/').join(':')}:${f.lineNumber}`
  self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0))
  total += n.hitCount ?? 0
}
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`)
