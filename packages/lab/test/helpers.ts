import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import type { Host, LabProcess } from '../src/index.ts'

const node = process.execPath

/** Namespaces, root-namespace links and /etc/netns entries whose names start with `prefix`. */
export function leftovers(prefix: string): { namespaces: string[]; rootLinks: string[]; etc: string[] } {
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n?.startsWith(prefix))
  const rootLinks = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter((n) => n.startsWith(prefix))
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((d) => d.startsWith(prefix)) : []
  return { namespaces, rootLinks, etc }
}

/** A TCP server in `host` that answers each connection with `<peer address>:<peer port>\n`. */
export async function startTcpWho(host: Host, port: number): Promise<LabProcess> {
  const script = `require('node:net').createServer((s) => s.end(s.remoteAddress + ':' + s.remotePort + '\\n'))
    .listen(${port}, '0.0.0.0', () => console.log('listening ${port}'))`
  const p = host.spawn(node, ['-e', script])
  await p.waitForOutput(`listening ${port}`)
  return p
}

/** Connects from `host` to address:port; `seen` is what the server answered (its view of us). */
export async function tcpConnect(
  host: Host,
  address: string,
  port: number,
  timeoutMs = 1500,
): Promise<{ ok: boolean; seen: string; error: string }> {
  const script = `const s = require('node:net').connect({ host: ${JSON.stringify(address)}, port: ${port} })
    let out = ''
    s.on('data', (d) => { out += d })
    s.on('end', () => { process.stdout.write(out); process.exit(0) })
    s.on('error', (e) => { process.stderr.write(e.code || e.message); process.exit(2) })
    setTimeout(() => { process.stderr.write('timeout'); process.exit(3) }, ${timeoutMs})`
  const r = await host.exec(node, ['-e', script])
  return { ok: r.code === 0, seen: r.stdout.trim(), error: r.stderr.trim() }
}

/** A UDP server in `host` on each port that answers every datagram with `<peer address>:<peer port>`. */
export async function startUdpWho(host: Host, ports: number[]): Promise<LabProcess> {
  const script = `const dgram = require('node:dgram')
    for (const port of ${JSON.stringify(ports)}) {
      const s = dgram.createSocket('udp4')
      s.on('message', (m, r) => s.send(r.address + ':' + r.port, r.port, r.address))
      s.bind(port, '0.0.0.0', () => console.log('udp ' + port))
    }`
  const p = host.spawn(node, ['-e', script])
  for (const port of ports) await p.waitForOutput(`udp ${port}`)
  return p
}

/** From one UDP socket bound to `localPort` in `host`, asks each address:port how it sees us. */
export async function udpMappings(
  host: Host,
  address: string,
  ports: number[],
  localPort: number,
): Promise<string[]> {
  const script = `const s = require('node:dgram').createSocket('udp4')
    const ports = ${JSON.stringify(ports)}
    const seen = {}
    s.on('message', (m, r) => { seen[r.port] = String(m); if (Object.keys(seen).length === ports.length) {
      process.stdout.write(JSON.stringify(ports.map((p) => seen[p]))); process.exit(0) } })
    s.bind(${localPort}, () => { for (const p of ports) s.send('who', p, ${JSON.stringify(address)}) })
    setTimeout(() => process.exit(3), 3000)`
  const r = await host.exec(node, ['-e', script])
  if (r.code !== 0) throw new Error(`udp probe failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as string[]
}
