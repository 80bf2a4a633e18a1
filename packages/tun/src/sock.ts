/**
 * A TCP dialer that connects from a given local address/port: the port a `reusePort` server
 * already listens on. Two peers that dial each other's public mapping at about the same time get
 * a TCP simultaneous open through their NATs (hole punching), because each outgoing SYN leaves
 * from the announced port. Node's `net.connect` cannot do this (it always dials from an ephemeral
 * port); the socket is made in C (native/sock.c) and handed over as a `net.Socket`.
 */
import { closeSync } from 'node:fs'
import { isIP, Socket } from 'node:net'
import { loadAddon } from './addon.ts'
import { TunError, TunOptionsError } from './errors.ts'

/** {@link DialFromPortInit.localAddress}: every local address (IPv4). */
export const DEFAULT_DIAL_LOCAL_ADDRESS = '0.0.0.0'
/**
 * {@link DialFromPortInit.timeoutMs}: longer than the peer's dial delay plus one SYN retransmission
 * (the first SYN is dropped at the far NAT; the kernel resends after 1 s, then 3 s, 7 s).
 */
export const DEFAULT_DIAL_TIMEOUT_MS = 5000

export interface DialFromPortInit {
  /** Local IP literal to bind (the listening address). @default '0.0.0.0' ('::' for IPv6 peers) */
  localAddress?: string
  /** Local port to dial from: the port a `reusePort: true` server listens on. */
  localPort: number
  /** The peer's (public) IP literal. */
  remoteAddress: string
  remotePort: number
  /** Give up (closing the socket) after this long; SYNs are retransmitted meanwhile. @default 5000 */
  timeoutMs?: number
  /** Aborting ends the dial (the socket is closed) and rejects with `signal.reason`. */
  signal?: AbortSignal
}

/** A dial failed; `errnoName` is the system error (e.g. `ENETUNREACH`). Subclasses name conditions. */
export class DialError extends TunError {
  readonly errnoName: string
  readonly local: string
  readonly remote: string
  constructor(
    code: string,
    errnoName: string,
    local: string,
    remote: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options)
    this.name = 'DialError'
    this.errnoName = errnoName
    this.local = local
    this.remote = remote
  }
}

/** No connection within `timeoutMs` (the peer did not dial back, or its NAT changes ports). */
export class DialTimeoutError extends DialError {
  readonly timeoutMs: number
  constructor(local: string, remote: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(
      'ERR_DIAL_TIMEOUT',
      'ETIMEDOUT',
      local,
      remote,
      `dial ${local} -> ${remote} timed out after ${timeoutMs} ms: make sure the peer dials back at ` +
        'the same time from its announced port (a symmetric NAT maps another port: relay instead)',
      options,
    )
    this.name = 'DialTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/** The local address/port cannot be used for this pair (EADDRINUSE / EADDRNOTAVAIL). */
export class AddressInUseError extends DialError {
  constructor(errnoName: string, local: string, remote: string, options?: { cause?: unknown }) {
    super(
      'ERR_DIAL_ADDRESS_IN_USE',
      errnoName,
      local,
      remote,
      errnoName === 'EADDRNOTAVAIL'
        ? `dial ${local} -> ${remote}: ${errnoName}: the same address pair was punched < 60 s ago ` +
            '(TIME_WAIT): wait or use another port'
        : `dial ${local} -> ${remote}: ${errnoName}: the same address pair was punched < 60 s ago ` +
            '(TIME_WAIT), or the port is held by a socket without SO_REUSEPORT (listen with ' +
            '`reusePort: true`, as the same user): wait or use another port',
      options,
    )
    this.name = 'AddressInUseError'
  }
}

/**
 * The peer answered with a reset. `ECONNREFUSED`: our SYN was reset, nothing listens there and it
 * is not dialing us. `ECONNRESET`: the peer's SYN had reached us (a simultaneous open had begun)
 * and then a reset came, from its host or a NAT on the way whose mapping had closed. Either way a
 * hole punch dials again from the same port.
 */
export class DialRefusedError extends DialError {
  constructor(
    local: string,
    remote: string,
    options?: { cause?: unknown },
    errnoName: 'ECONNREFUSED' | 'ECONNRESET' = 'ECONNREFUSED',
  ) {
    super(
      'ERR_DIAL_REFUSED',
      errnoName,
      local,
      remote,
      errnoName === 'ECONNRESET'
        ? `dial ${local} -> ${remote} reset during a simultaneous open: dial again from the same port ` +
            '(the peer or its NAT closed the half-open connection)'
        : `dial ${local} -> ${remote} refused: check the peer's address and port and that it is ` +
            'listening (or dialing us back) there',
      options,
    )
    this.name = 'DialRefusedError'
  }
}

interface NativeDialError extends Error {
  code: string
  errno: number
  syscall: string
}

type NativeDialHandle = { readonly __brand: 'meshlan-dial-handle' }

interface SockAddon {
  connectFromPort(
    localAddress: string,
    localPort: number,
    remoteAddress: string,
    remotePort: number,
    timeoutMs: number,
    callback: (err: NativeDialError | null, fd: number) => void,
  ): NativeDialHandle
  cancel(handle: NativeDialHandle): void
}

function sockAddon(): SockAddon {
  return loadAddon<SockAddon>('meshlan_sock')
}

const hostPort = (address: string, port: number) =>
  isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`

const isPort = (p: unknown, min: number) =>
  Number.isInteger(p) && (p as number) >= min && (p as number) <= 65535

/** The named error for a failed native connect (exported for its test). */
export function toDialError(
  err: Pick<NativeDialError, 'code' | 'message'>,
  local: string,
  remote: string,
  timeoutMs: number,
): Error {
  const options = { cause: err }
  switch (err.code) {
    case 'ETIMEDOUT':
      return new DialTimeoutError(local, remote, timeoutMs, options)
    case 'EADDRINUSE':
    case 'EADDRNOTAVAIL':
      return new AddressInUseError(err.code, local, remote, options)
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return new DialRefusedError(local, remote, options, err.code as 'ECONNREFUSED' | 'ECONNRESET')
    default:
      return new DialError(
        'ERR_DIAL_FAILED',
        err.code,
        local,
        remote,
        `dial ${local} -> ${remote}: ${err.message}: check the route to the peer`,
        options,
      )
  }
}

/**
 * Connects from `localAddress:localPort` (SO_REUSEADDR + SO_REUSEPORT, so a `reusePort: true`
 * server may keep listening there) to `remoteAddress:remotePort`. Resolves with a connected
 * `net.Socket`; rejects with {@link DialTimeoutError}, {@link AddressInUseError},
 * {@link DialRefusedError}, another {@link DialError}, `TunOptionsError` (bad init) or
 * `signal.reason`. The socket is closed on every failure path.
 */
export function dialFromPort(init: DialFromPortInit): Promise<Socket> {
  const { localPort, remoteAddress, remotePort, signal } = init
  const timeoutMs = init.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
  const family = isIP(remoteAddress)
  const localAddress = init.localAddress ?? (family === 6 ? '::' : DEFAULT_DIAL_LOCAL_ADDRESS)
  if (family === 0) return Promise.reject(new TunOptionsError('remoteAddress', 'must be an IP literal'))
  if (isIP(localAddress) !== family)
    return Promise.reject(
      new TunOptionsError(
        'localAddress',
        `must be an IP literal of the remote address's family (IPv${family})`,
      ),
    )
  if (!isPort(localPort, 0))
    return Promise.reject(new TunOptionsError('localPort', 'must be an integer 0..65535'))
  if (!isPort(remotePort, 1))
    return Promise.reject(new TunOptionsError('remotePort', 'must be an integer 1..65535'))
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1)
    return Promise.reject(new TunOptionsError('timeoutMs', 'must be a positive integer (milliseconds)'))
  if (signal?.aborted) return Promise.reject(signal.reason)
  let sock: SockAddon
  try {
    sock = sockAddon()
  } catch (err) {
    return Promise.reject(err)
  }
  const local = hostPort(localAddress, localPort)
  const remote = hostPort(remoteAddress, remotePort)
  return new Promise<Socket>((resolve, reject) => {
    let handle: NativeDialHandle | undefined
    const onAbort = () => {
      if (handle) sock.cancel(handle)
    }
    const done = (err: NativeDialError | null, fd: number) => {
      signal?.removeEventListener('abort', onAbort)
      if (err) {
        if (err.code === 'ECANCELED' && signal?.aborted) reject(signal.reason)
        else reject(toDialError(err, local, remote, timeoutMs))
        return
      }
      try {
        resolve(new Socket({ fd, readable: true, writable: true }))
      } catch (cause) {
        try {
          closeSync(fd) // the Socket did not take the fd
        } catch {}
        reject(cause)
      }
    }
    try {
      handle = sock.connectFromPort(localAddress, localPort, remoteAddress, remotePort, timeoutMs, done)
    } catch (err) {
      reject(toDialError(err as NativeDialError, local, remote, timeoutMs))
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
