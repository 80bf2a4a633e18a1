/**
 * Forwarding to upstream servers: one query, one fresh socket (random source port), a fresh random
 * transaction id, answers accepted only from the upstream's address and port with the matching id.
 * Never throws: every failure is a `{ ok: false, reason }` value.
 */
import { randomInt } from 'node:crypto'
import { createSocket, type RemoteInfo } from 'node:dgram'
import { isIPv4, isIPv6, connect as netConnect } from 'node:net'
import { DEFAULT_UPSTREAM_PORT, DNS_HEADER_BYTES } from './constants.ts'

export interface Upstream {
  /** IP literal (IPv6 may carry a `%zone`). */
  host: string
  port: number
  family: 4 | 6
}

export type Result<T> = { ok: true; value: T } | { ok: false; reason: string }

/** Parses `ip`, `ip:port`, `[ipv6]:port` or a bare IPv6 (`fe80::1%eth0` allowed). */
export function parseUpstream(text: string): Result<Upstream> {
  const t = text.trim()
  let host = t
  let portText: string | null = null
  if (t.startsWith('[')) {
    const close = t.indexOf(']')
    if (close < 0) return { ok: false, reason: 'unclosed [' }
    host = t.slice(1, close)
    const rest = t.slice(close + 1)
    if (rest !== '') {
      if (!rest.startsWith(':')) return { ok: false, reason: 'expected :port after ]' }
      portText = rest.slice(1)
    }
  } else if (t.split(':').length === 2) {
    const i = t.indexOf(':')
    host = t.slice(0, i)
    portText = t.slice(i + 1)
  }
  let port = DEFAULT_UPSTREAM_PORT
  if (portText != null) {
    if (!/^[0-9]{1,5}$/.test(portText)) return { ok: false, reason: 'port is not a number' }
    port = Number(portText)
    if (port < 1 || port > 65535) return { ok: false, reason: 'port out of range' }
  }
  if (isIPv4(host)) return { ok: true, value: { host, port, family: 4 } }
  const bare = host.split('%')[0]
  if (isIPv6(bare)) return { ok: true, value: { host, port, family: 6 } }
  return { ok: false, reason: 'not an IP address' }
}

export function formatUpstream(u: Upstream): string {
  return u.family === 6 ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`
}

function withId(query: Buffer, id: number): Buffer {
  const out = Buffer.from(query)
  out.writeUInt16BE(id, 0)
  return out
}

function sameHost(a: string, b: string): boolean {
  const strip = (s: string): string =>
    s
      .split('%')[0]
      .toLowerCase()
      .replace(/^::ffff:/, '')
  return strip(a) === strip(b)
}

/** True when `reply` looks like the answer to a query sent with `id` (header present, QR set). */
function isReplyTo(reply: Buffer, id: number): boolean {
  return reply.length >= DNS_HEADER_BYTES && reply.readUInt16BE(0) === id && (reply[2] & 0x80) !== 0
}

/**
 * Sends `query` (a whole DNS message) to `up` over UDP and resolves with the reply, its id set back
 * to the query's. Stray datagrams (wrong source, wrong id, not a response) are ignored.
 */
export function forwardUdp(up: Upstream, query: Buffer, timeoutMs: number): Promise<Result<Buffer>> {
  if (query.length < DNS_HEADER_BYTES) return Promise.resolve({ ok: false, reason: 'short query' })
  const clientId = query.readUInt16BE(0)
  const id = randomInt(0x10000)
  const sock = createSocket(up.family === 6 ? 'udp6' : 'udp4')
  return new Promise((resolve) => {
    let done = false
    const finish = (r: Result<Buffer>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      try {
        sock.close()
      } catch {
        // already closed
      }
      resolve(r)
    }
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout' }), timeoutMs)
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, reason: err.code ?? 'socket error' }),
    )
    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      if (rinfo.port !== up.port || !sameHost(rinfo.address, up.host)) return
      if (!isReplyTo(msg, id)) return
      finish({ ok: true, value: withId(msg, clientId) })
    })
    sock.send(withId(query, id), up.port, up.host, (err) => {
      if (err) finish({ ok: false, reason: (err as NodeJS.ErrnoException).code ?? 'send failed' })
    })
  })
}

/** Sends `query` to `up` over TCP (RFC 1035 §4.2.2 framing) and resolves with the first reply. */
export function forwardTcp(up: Upstream, query: Buffer, timeoutMs: number): Promise<Result<Buffer>> {
  if (query.length < DNS_HEADER_BYTES || query.length > 0xffff) {
    return Promise.resolve({ ok: false, reason: 'bad query length' })
  }
  const clientId = query.readUInt16BE(0)
  const id = randomInt(0x10000)
  return new Promise((resolve) => {
    let done = false
    let buf: Buffer = Buffer.alloc(0)
    const sock = netConnect({ host: up.host, port: up.port })
    const finish = (r: Result<Buffer>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(r)
    }
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout' }), timeoutMs)
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, reason: err.code ?? 'socket error' }),
    )
    sock.on('close', () => finish({ ok: false, reason: 'closed before a reply' }))
    sock.on('connect', () => {
      const len = Buffer.alloc(2)
      len.writeUInt16BE(query.length, 0)
      sock.write(Buffer.concat([len, withId(query, id)]))
    })
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0)
        if (buf.length < 2 + n) return
        const msg = buf.subarray(2, 2 + n)
        buf = buf.subarray(2 + n)
        if (isReplyTo(msg, id)) return finish({ ok: true, value: withId(msg, clientId) })
      }
    })
  })
}
