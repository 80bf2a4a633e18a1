import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { promisify } from 'node:util'
import type dns2 from 'dns2'
import { Packet } from 'dns2'
import type { NameSource } from '../src/index.ts'

export const execFileP = promisify(execFile)

/** A NameSource over a plain table. */
export function fakeNames(
  table: Record<string, string>,
  opts: { self?: string | null; network?: string | null } = {},
): NameSource & { table: Record<string, string> } {
  return {
    table,
    lookupName: (n) => table[n] ?? null,
    lookupIp: (ip) => Object.keys(table).find((k) => table[k] === ip) ?? null,
    selfIp: () => (opts.self === undefined ? '10.144.0.1' : opts.self),
    networkName: () => (opts.network === undefined ? 'home' : opts.network),
  }
}

export function buildQuery(name: string, type: number, opts: { id?: number; edns?: boolean } = {}): Buffer {
  const p = new Packet()
  p.header.id = opts.id ?? Math.floor(Math.random() * 65536)
  p.header.rd = 1
  p.questions.push({ name, type, class: Packet.CLASS.IN } as dns2.Packet.Question)
  if (opts.edns) p.additionals.push(Packet.Resource.EDNS([]) as unknown as dns2.Packet.Resource)
  return p.toBuffer()
}

/** Sends one raw datagram and waits for one reply (or null on timeout). */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4')
    const t = setTimeout(() => {
      s.close()
      resolve(null)
    }, timeoutMs)
    s.on('message', (m) => {
      clearTimeout(t)
      s.close()
      resolve(m)
    })
    s.send(msg, port, '127.0.0.1')
  })
}

/** Sends one length-prefixed message over TCP and waits for one reply (or null). */
export function tcpExchange(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0)
    const s = connect({ host: '127.0.0.1', port })
    const done = (v: Buffer | null): void => {
      clearTimeout(t)
      s.destroy()
      resolve(v)
    }
    const t = setTimeout(() => done(null), timeoutMs)
    s.on('error', () => done(null))
    s.on('close', () => done(null))
    s.on('connect', () => {
      const len = Buffer.alloc(2)
      len.writeUInt16BE(msg.length)
      s.write(Buffer.concat([len, msg]))
    })
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0))
        done(buf.subarray(2, 2 + buf.readUInt16BE(0)))
    })
  })
}

export async function ask(
  port: number,
  name: string,
  type: number,
  opts: { tcp?: boolean; edns?: boolean } = {},
): Promise<dns2.Packet> {
  const q = buildQuery(name, type, opts)
  const r = opts.tcp ? await tcpExchange(port, q) : await udpExchange(port, q)
  if (r == null) throw new Error(`no reply for ${name}`)
  return Packet.parse(r)
}

export async function hasDig(): Promise<boolean> {
  try {
    await execFileP('dig', ['-v'])
    return true
  } catch {
    return false
  }
}

export async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('dig', [
    '@127.0.0.1',
    '-p',
    String(port),
    '+time=2',
    '+tries=1',
    ...args,
  ])
  return stdout.trim()
}
