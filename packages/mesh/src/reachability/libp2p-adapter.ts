/**
 * The one place meshlan relies on libp2p beyond its public node API. A js-libp2p service
 * (`libp2pAdapter()` in the services map) that declares, typed, the components it uses and offers
 * exactly what hole punching, the NAT probe and relay reservations need:
 *
 * - `upgradeSocket(socket, role)`: Noise + Yamux over a socket we connected ourselves (a punched
 *   or probe socket), with the role we chose, RETURNING the Connection. Assumptions: the upgrader's
 *   `upgradeOutbound` returns the Connection and, with `initiator: false`, runs the responder side
 *   (multistream-select listener, Noise responder); Yamux takes its client/server role from the
 *   MultiaddrConnection's `direction` (the responder's is 'inbound'); the upgrader announces the
 *   Connection (`connection:open`) so the connection manager lists it — checked after each upgrade.
 * - `tcpListenPorts()`: the ports our TCP listeners are bound to (transport manager listeners).
 * - `reserveOn(relay)`: a circuit-relay reservation, i.e. `transportManager.listen` on
 *   `/p2p/<relay>/p2p-circuit` (the circuit listener reserves over the connection we already have).
 * - `relayStreams()`: the streams our circuit relay server forwards, each with the member whose
 *   upload it carries. Assumptions (@libp2p/circuit-relay-v2 4.2.13, `handleConnect`): a circuit is
 *   the source's inbound HOP stream piped to an outbound STOP stream we opened to the destination,
 *   both listed in their connection's `streams` while the circuit lives; the pipe reads them through
 *   'message' events, so `pause()` on one (yamux then withholds window) stops that direction.
 * - `holdRelayStream()`: marks a forwarded stream as held paused by us, so the relay's own
 *   forwarding does not resume it on 'drain'. Assumption: our patch of @libp2p/circuit-relay-v2
 *   4.2.13 (`patches/`: forwarding with backpressure instead of an unbounded `pipe()`) reads the
 *   `Symbol.for('@libp2p/circuit-relay-v2/hold')` property before resuming a stream it paused.
 * - `REUSE_PORT_LISTEN_OPTS`: the `listenOpts` that make the TCP listener bind with SO_REUSEPORT,
 *   so the hole-punch dialer can bind the same port. Assumption: @libp2p/tcp 11.0.28 spreads
 *   `listenOpts` into the listener's context (`createListener`), which becomes both the
 *   `net.createServer` options and, via `multiaddrToNetConfig(addr, context)`, the options of
 *   `server.listen()`, where Node honours `reusePort`. Its type does not declare `reusePort`.
 *
 * Every assumption is exercised by packages/mesh/test/libp2p-adapter.test.ts over real loopback
 * TCP; `checkComponents()` is run at construction and fails loudly with Libp2pAssumptionError.
 */
import type { Socket } from 'node:net'
import { RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2'
import type { AbortOptions, ComponentLogger, Connection, Stream, Upgrader } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import type { TCPOptions } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import type { MeshLibp2p } from '../transport.ts'
import { UPGRADE_TIMEOUT_MS } from './constants.ts'
import { AdapterMissingError, Libp2pAssumptionError } from './errors.ts'
import { socketToConnection } from './socket-conn.ts'

/** The key of the adapter in libp2p's services map. */
export const LIBP2P_ADAPTER_SERVICE = 'libp2pAdapter'

/** What the adapter needs from libp2p's components (declared, typed: no `any`). */
export interface Libp2pAdapterComponents {
  upgrader: Upgrader
  transportManager: TransportManager
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/**
 * Our role on a socket after a simultaneous open (its direction means nothing then): the smaller
 * peer id is the initiator (Noise initiator, multistream dialer, Yamux client).
 */
export type UpgradeRole = 'initiator' | 'responder'

export interface UpgradeSocketOptions extends AbortOptions {
  /** Log scope for the connection. @default 'meshlan:punched' */
  component?: string
}

/** A stream our relay server forwards: `member` is the peer whose bytes arrive on it. */
export interface RelayedStream {
  member: string
  stream: Stream
}

export interface Libp2pAdapter {
  upgradeSocket(socket: Socket, role: UpgradeRole, options?: UpgradeSocketOptions): Promise<Connection>
  tcpListenPorts(): number[]
  /** The addresses our TCP listeners are bound to (`/ip4/0.0.0.0/tcp/7946` when on every interface). */
  tcpListenAddrs(): string[]
  reserveOn(relayPeerId: string): Promise<void>
  /** The streams our member relay forwards for others now (see the file comment). */
  relayStreams(): RelayedStream[]
  /** The component contract re-checked now (empty: every assumption holds). */
  brokenAssumptions(): string[]
}

/**
 * `listenOpts` for `tcp()`: SO_REUSEPORT on the listening socket (see the file comment for the
 * assumption; the contract test dials from the listening port while it listens).
 */
const reusePort: NonNullable<TCPOptions['listenOpts']> & { reusePort: true } = { reusePort: true }
export const REUSE_PORT_LISTEN_OPTS: TCPOptions['listenOpts'] = reusePort

/** The component methods the adapter calls, with the arity it was written against. */
export const COMPONENT_CONTRACT: ReadonlyArray<{
  component: keyof Libp2pAdapterComponents
  method: string
  arity: number
}> = [
  { component: 'upgrader', method: 'upgradeOutbound', arity: 2 },
  { component: 'transportManager', method: 'listen', arity: 1 },
  { component: 'transportManager', method: 'getListeners', arity: 0 },
  { component: 'connectionManager', method: 'getConnections', arity: 1 },
  { component: 'logger', method: 'forComponent', arity: 1 },
]

/** The broken assumptions about libp2p's components, as sentences (empty: all hold). */
export function checkComponents(components: unknown): string[] {
  const out: string[] = []
  const c = components as Record<string, unknown> | null
  for (const { component, method, arity } of COMPONENT_CONTRACT) {
    let target: unknown
    try {
      // libp2p's components object throws on unknown names: that is a broken assumption too
      target = c?.[component]
    } catch (err) {
      out.push(`component '${component}' is not provided (${(err as Error).message})`)
      continue
    }
    if (target == null || typeof target !== 'object') {
      out.push(`component '${component}' is not provided`)
      continue
    }
    const fn = (target as Record<string, unknown>)[method]
    if (typeof fn !== 'function') out.push(`${component}.${method} is not a function`)
    else if (fn.length !== arity)
      out.push(`${component}.${method} takes ${fn.length} arguments, expected ${arity}`)
  }
  return out
}

class Libp2pAdapterService implements Libp2pAdapter {
  readonly [Symbol.toStringTag] = '@meshlan/libp2p-adapter'
  private readonly components: Libp2pAdapterComponents

  constructor(components: Libp2pAdapterComponents) {
    const broken = checkComponents(components)
    if (broken.length > 0) throw new Libp2pAssumptionError('component contract', broken.join('; '))
    this.components = components
  }

  async upgradeSocket(
    socket: Socket,
    role: UpgradeRole,
    options: UpgradeSocketOptions = {},
  ): Promise<Connection> {
    const { upgrader, connectionManager, logger } = this.components
    const log = logger.forComponent(options.component ?? 'meshlan:punched')
    // the direction is what Yamux reads for its role; `initiator` is what multistream and Noise use
    const maConn = socketToConnection(socket, role === 'initiator' ? 'outbound' : 'inbound', log)
    const signal = options.signal ?? AbortSignal.timeout(UPGRADE_TIMEOUT_MS)
    const conn = await upgrader.upgradeOutbound(maConn, { signal, initiator: role === 'initiator' })
    if (!connectionManager.getConnections(conn.remotePeer).includes(conn)) {
      conn.abort(new Error('connection not registered'))
      throw new Libp2pAssumptionError(
        'upgraded connections are registered',
        'the connection manager does not list a connection the upgrader returned',
      )
    }
    return conn
  }

  brokenAssumptions(): string[] {
    return checkComponents(this.components)
  }

  tcpListenPorts(): number[] {
    const ports = new Set<number>()
    for (const l of this.components.transportManager.getListeners()) {
      for (const a of l.getAddrs()) {
        const parts = a.getComponents()
        if (parts.some((p) => p.name === 'p2p-circuit')) continue
        const tcpPort = parts.find((p) => p.name === 'tcp')?.value
        if (tcpPort != null) ports.add(Number(tcpPort))
      }
    }
    return [...ports]
  }

  tcpListenAddrs(): string[] {
    const out: string[] = []
    for (const l of this.components.transportManager.getListeners()) {
      for (const a of l.getAddrs()) {
        const parts = a.getComponents()
        if (parts.some((p) => p.name === 'p2p-circuit') || !parts.some((p) => p.name === 'tcp')) continue
        out.push(a.toString())
      }
    }
    return out
  }

  relayStreams(): RelayedStream[] {
    const out: RelayedStream[] = []
    for (const conn of this.components.connectionManager.getConnections()) {
      // a relay never serves a hop over a circuit (the server refuses it), and our own circuits as
      // a client are an outbound HOP or an inbound STOP: not forwarded traffic
      if (conn.status !== 'open' || conn.remoteAddr.toString().includes('/p2p-circuit')) continue
      for (const s of conn.streams) {
        if (
          (s.protocol === RELAY_V2_HOP_CODEC && s.direction === 'inbound') ||
          (s.protocol === RELAY_V2_STOP_CODEC && s.direction === 'outbound')
        )
          out.push({ member: conn.remotePeer.toString(), stream: s })
      }
    }
    return out
  }

  async reserveOn(relayPeerId: string): Promise<void> {
    // by peer id: the circuit listener reserves over the connection we already have
    await this.components.transportManager.listen([multiaddr(`/p2p/${relayPeerId}/p2p-circuit`)])
  }
}

/** The property our circuit-relay-v2 patch reads (see the file comment). */
const RELAY_HOLD = Symbol.for('@libp2p/circuit-relay-v2/hold')

/** Marks (or clears) a forwarded stream as held paused by our relay governor. */
export function holdRelayStream(stream: Stream, held: boolean): void {
  ;(stream as Stream & { [RELAY_HOLD]?: boolean })[RELAY_HOLD] = held
}

/** The libp2p service factory: `services: { [LIBP2P_ADAPTER_SERVICE]: libp2pAdapter() }`. */
export function libp2pAdapter(): (components: Libp2pAdapterComponents) => Libp2pAdapter {
  return (components) => new Libp2pAdapterService(components)
}

/** The adapter registered in a node built by createTransport (throws a named error if absent). */
export function adapterOf(libp2p: MeshLibp2p): Libp2pAdapter {
  const s: unknown = libp2p.services[LIBP2P_ADAPTER_SERVICE]
  if (s instanceof Libp2pAdapterService) return s
  throw new AdapterMissingError(LIBP2P_ADAPTER_SERVICE)
}
