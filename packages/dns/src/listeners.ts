/**
 * The resolver's sockets: for one address, a UDP and/or a TCP listener on one port (with port 0,
 * the port UDP got is tried for TCP, a few times over). Binding failures are ResolverBindError;
 * closing destroys the open TCP connections so `stop()` does not wait for idle clients.
 */
import type { RemoteInfo } from 'node:dgram'
import type { EventEmitter } from 'node:events'
import { isIPv6, type Socket as NetSocket } from 'node:net'
import type dns2 from 'dns2'
import { PORT_ZERO_BIND_ATTEMPTS } from './constants.ts'
import { createTcpServer, createUdpServer } from './dns2-servers.ts'
import { ResolverBindError } from './errors.ts'
import type { DnsLogger } from './log.ts'

export interface Listener {
  address: string
  udp: dns2.UDPServer | null
  tcp: dns2.TCPServer | null
  /** Bound UDP port, null when UDP is off. */
  udpPort: number | null
  /** Bound TCP port, null when TCP is off. */
  tcpPort: number | null
  /** Open TCP connections (destroyed on close). */
  sockets: Set<NetSocket>
}

export interface ListenInit {
  address: string
  /** 0 picks a free port, the same for UDP and TCP. */
  port: number
  udp: boolean
  tcp: boolean
  maxTcpConnections: number
}

export interface ListenHandlers {
  onUdpMessage(udp: dns2.UDPServer, data: Buffer, rinfo: RemoteInfo): void
  onTcpRequest: dns2.DnsHandler
  /** dns2's TCP path could not read a message (it parses before calling onTcpRequest). */
  onTcpRequestError(err: Error): void
  log: DnsLogger
}

function errorCode(err: unknown): string {
  return (err as { code?: string })?.code ?? (err instanceof Error ? err.name : 'error')
}

/** Binds the listeners of one address. Throws ResolverBindError. */
export async function listen(init: ListenInit, h: ListenHandlers): Promise<Listener> {
  const attempts = init.port === 0 ? PORT_ZERO_BIND_ATTEMPTS : 1
  let lastErr: unknown = null
  for (let attempt = 0; attempt < attempts; attempt++) {
    const l = open(init, h)
    try {
      let port = init.port
      if (l.udp != null) {
        const udp = l.udp
        port = await bound(
          'udp',
          udp,
          init.address,
          port,
          (p) => udp.bind(p, init.address),
          () => udp.address().port,
        )
        l.udpPort = port
      }
      if (l.tcp != null) {
        const tcp = l.tcp
        l.tcpPort = await bound(
          'tcp',
          tcp,
          init.address,
          port,
          (p) => tcp.listen({ port: p, host: init.address, exclusive: true }),
          () => {
            const a = tcp.address()
            return typeof a === 'object' && a != null ? a.port : port
          },
        )
      }
      return l
    } catch (err) {
      lastErr = err
      await close(l)
      // With port 0, UDP's free port may be taken for TCP: try another.
      if (!(err instanceof ResolverBindError) || errorCode(err.cause) !== 'EADDRINUSE') break
    }
  }
  throw lastErr
}

function open(init: ListenInit, h: ListenHandlers): Listener {
  const { address } = init
  const l: Listener = { address, udp: null, tcp: null, udpPort: null, tcpPort: null, sockets: new Set() }
  const onError = (transport: 'udp' | 'tcp') => (err: Error) =>
    h.log.warn('dns socket error', { transport, address, reason: errorCode(err) })
  if (init.udp) {
    const udp = createUdpServer(isIPv6(address) ? 'udp6' : 'udp4', (data, rinfo) =>
      h.onUdpMessage(udp, data, rinfo),
    )
    udp.on('error', onError('udp'))
    l.udp = udp
  }
  if (init.tcp) {
    const tcp = createTcpServer(h.onTcpRequest)
    tcp.maxConnections = init.maxTcpConnections
    tcp.on('error', onError('tcp'))
    tcp.on('requestError', h.onTcpRequestError)
    tcp.on('connection', (s: NetSocket) => {
      l.sockets.add(s)
      s.on('close', () => l.sockets.delete(s))
    })
    l.tcp = tcp
  }
  return l
}

/** Starts `socket` on `port` and resolves with the bound port once it is listening. */
function bound(
  transport: 'udp' | 'tcp',
  socket: EventEmitter,
  address: string,
  port: number,
  start: (port: number) => void,
  boundPort: () => number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.off('listening', onListening)
      reject(new ResolverBindError(address, port, transport, err))
    }
    const onListening = (): void => {
      socket.off('error', onError)
      resolve(boundPort())
    }
    socket.once('error', onError)
    socket.once('listening', onListening)
    try {
      start(port)
    } catch (err) {
      socket.off('error', onError)
      socket.off('listening', onListening)
      reject(new ResolverBindError(address, port, transport, err))
    }
  })
}

/** Closes both sockets and every open TCP connection. Never throws. */
export async function close(l: Listener): Promise<void> {
  const waits: Promise<void>[] = []
  const { udp, tcp } = l
  if (udp != null) {
    waits.push(
      new Promise((resolve) => {
        try {
          udp.close(() => resolve())
        } catch {
          resolve() // never bound, or already closed
        }
      }),
    )
  }
  if (tcp != null) {
    for (const s of l.sockets) s.destroy()
    waits.push(new Promise((resolve) => tcp.close(() => resolve())))
  }
  await Promise.all(waits)
}
