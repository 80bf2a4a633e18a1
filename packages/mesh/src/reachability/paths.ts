/**
 * Paths to peers: direct connections, relayed ones (circuit relay v2 through a member relay), and
 * the choice between them. The pump asks for a tunnel stream; this picks the best connection now
 * (direct > relay), dials when there is none (direct and relayed attempts raced, so a NATed peer
 * has a relayed tunnel in well under a second), holds reservations on member relays, and watches
 * direct paths that carry tunnels so a dead one falls back to the relay quickly.
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { NodeRecord } from '@meshlan/wire'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { TUNNEL_OPEN_TIMEOUT_MS, TUNNEL_PROTOCOL } from '../constants.ts'
import { addrFamily, type IpFamily } from '../ip-family.ts'
import { keepaliveOf } from '../keepalive.ts'
import type { Logger } from '../logger.ts'
import { isCircuitAddr } from '../path-windows.ts'
import { peerIdOf } from '../peer-ids.ts'
import {
  DIRECT_DIAL_TIMEOUT_MS,
  DIRECT_ONLY_DIAL_TIMEOUT_MS,
  DIRECT_SAME_NAT_DIAL_TIMEOUT_MS,
  RELAY_DIAL_TIMEOUT_MS,
  RELAY_PING_TIMEOUT_MS,
  RELAY_SCORE_DISCONNECTED,
  RELAY_SCORE_UNKNOWN,
  RESERVED_RELAYS,
} from './constants.ts'
import { NoPathError } from './errors.ts'
import type { ReachabilityHost } from './host.ts'
import type { Libp2pAdapter } from './libp2p-adapter.ts'

export type PathKind = 'direct' | 'relay'

/** A connection through a relay has /p2p-circuit in its remote address. */
export function isRelayed(conn: Connection): boolean {
  return isCircuitAddr(conn.remoteAddr)
}

export function pathOf(conn: Connection): PathKind {
  return isRelayed(conn) ? 'relay' : 'direct'
}

/** Open connections to a peer, best first: direct before relayed, then oldest first. */
export function rankConnections(conns: Connection[]): Connection[] {
  return conns
    .filter((c) => c.status === 'open')
    .sort((a, b) => Number(isRelayed(a)) - Number(isRelayed(b)) || a.timeline.open - b.timeline.open)
}

export interface PathsInit {
  /** The libp2p node's connections, dialling and adapter. */
  host: ReachabilityHost
  log: Logger
  /** The member records we know (for addresses and relays). */
  record(peerId: string): NodeRecord | undefined
  /** Member relays we may reserve on: peer ids of online members whose record says relay. */
  relayCandidates(): string[]
  /** Whether this node should hold reservations now (not while it is a relay itself). */
  holdReservations(): boolean
  /** False for addresses inside the overlay subnet (never an underlay path). */
  underlay(addr: string): boolean
  /** Whether a peer sits behind the same NAT as we do (same observed public address). */
  sharesNat(peerId: string): boolean
}

/** Why a peer has no direct path (shown by status and ping). */
export type DirectFailure = 'symmetric-nat' | 'punch-failed' | 'no-relay' | 'not-tried' | null

/** How a peer is reached, for status and ping. */
export interface PathDetail {
  /** When relayed: the relay's name (or peer id). */
  via: string | null
  /** When not direct: why. */
  why: DirectFailure
  /** When direct: the peer's underlay address we talk to (`/ip6/2001:2:0:2::10/tcp/7946`). */
  addr: string | null
  /** The underlay's address family: of the direct connection, or of ours to the relay. */
  family: IpFamily | null
}

/** The family of a connection's remote address (a circuit's: of the hop to the relay). */
export function connFamily(conn: Connection): IpFamily | null {
  return addrFamily(conn.remoteAddr.toString())
}

/** A direct connection's remote address without `/p2p/…`. */
export function underlayAddr(conn: Connection): string {
  return conn.remoteAddr.toString().replace(/\/p2p\/[^/]+$/, '')
}

export class Paths {
  private readonly host: ReachabilityHost
  private readonly log: Logger
  private readonly init: PathsInit
  /** relay peer id → RTT ms */
  readonly relayRtts = new Map<string, number>()
  readonly directFailures = new Map<string, DirectFailure>()
  private readonly dialing = new Map<string, Promise<Connection>>()
  private readonly dialErrors = new Map<string, string>()

  /** The last failed dial to a peer (cleared by a success). */
  lastDialError(peerId: string): string | undefined {
    return this.dialErrors.get(peerId)
  }

  constructor(init: PathsInit) {
    this.init = init
    this.host = init.host
    this.log = init.log
  }

  private get adapter(): Libp2pAdapter {
    return this.host.adapter
  }

  best(peerId: string): Connection | undefined {
    return rankConnections(this.host.getConnections(peerIdOf(peerId)))[0]
  }

  path(peerId: string): PathKind | 'none' {
    const c = this.best(peerId)
    return c == null ? 'none' : pathOf(c)
  }

  /** The relay a relayed path goes through (its peer id), if any. */
  relayOf(peerId: string): string | null {
    const c = this.best(peerId)
    if (c == null || !isRelayed(c)) return null
    return relayIdOf(c.remoteAddr.toString())
  }

  /** Opens our tunnel stream to a peer on the best connection, dialing if needed. */
  async openTunnel(peerId: string): Promise<{ stream: Stream; path: PathKind }> {
    const conn = this.best(peerId) ?? (await this.connect(peerId))
    this.log.debug('opening tunnel stream', {
      peer: peerId,
      path: pathOf(conn),
      addr: conn.remoteAddr.toString(),
    })
    const stream = await conn.newStream(TUNNEL_PROTOCOL, {
      runOnLimitedConnection: true,
      signal: AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS),
    })
    return { stream, path: pathOf(conn) }
  }

  /**
   * Dials a member: its direct addresses and, when it announces relays, its circuit addresses,
   * raced; the first connection wins (a later direct one replaces a relayed path).
   */
  connect(peerId: string): Promise<Connection> {
    const pending = this.dialing.get(peerId)
    if (pending != null) return pending
    const p = this.doConnect(peerId)
      .then(
        (c) => {
          this.dialErrors.delete(peerId)
          return c
        },
        (err: Error) => {
          this.dialErrors.set(peerId, err.message)
          throw err
        },
      )
      .finally(() => this.dialing.delete(peerId))
    this.dialing.set(peerId, p)
    return p
  }

  /**
   * libp2p merges concurrent dials to one peer into one job, so a direct dial whose SYNs a far NAT
   * drops silently would hold the relayed attempts hostage: try one group after the other, in
   * the order the situation suggests. A peer behind another NAT: relay first (a tunnel in well
   * under a second; hole punching makes it direct later). A public peer, or one behind our own
   * NAT (same observed public address): its direct addresses first.
   */
  private async doConnect(peerId: string): Promise<Connection> {
    const id = peerIdOf(peerId)
    const rec = this.init.record(peerId)
    const direct = this.directAddrs(peerId)
    const circuits = onePerRelay((rec?.relays ?? []).filter((a) => this.init.underlay(a)))
      .map((a) => withPeer(a, peerId))
      .filter((a): a is Multiaddr => a != null)
    // circuits through relays we are connected to right now first, nearest first: a relay that
    // just died goes last instead of eating the timeout
    circuits.sort((x, y) => this.relayScore(x) - this.relayScore(y))
    const sameNat = this.init.sharesNat(peerId)
    const relayGroups = circuits.map((c) => ({
      kind: 'relay' as PathKind,
      addrs: [c],
      timeoutMs: RELAY_DIAL_TIMEOUT_MS,
    }))
    const directGroup = {
      kind: 'direct' as PathKind,
      addrs: direct,
      timeoutMs:
        circuits.length === 0
          ? DIRECT_ONLY_DIAL_TIMEOUT_MS
          : sameNat
            ? DIRECT_SAME_NAT_DIAL_TIMEOUT_MS
            : DIRECT_DIAL_TIMEOUT_MS,
    }
    const groups =
      circuits.length === 0 || sameNat ? [directGroup, ...relayGroups] : [...relayGroups, directGroup]
    this.log.debug('dialing member', {
      peer: peerId,
      direct: direct.length,
      relayed: circuits.length,
      sameNat,
    })
    const errors: string[] = []
    for (const g of groups) {
      if (g.addrs.length === 0) continue
      try {
        return await this.host.dial(g.addrs, { signal: AbortSignal.timeout(g.timeoutMs) })
      } catch (err) {
        errors.push(`${g.kind}: ${(err as Error).message}`)
      }
    }
    if (errors.length === 0)
      return this.host.dial(id, { signal: AbortSignal.timeout(DIRECT_ONLY_DIAL_TIMEOUT_MS) })
    throw new NoPathError(peerId, errors.join('; '))
  }

  /** A member's announced direct addresses we may dial (no loopback, nothing in the overlay). */
  private directAddrs(peerId: string): Multiaddr[] {
    return (this.init.record(peerId)?.addrs ?? [])
      .filter((a) => !isLoopback(a) && this.init.underlay(a))
      .map((a) => withPeer(a, peerId))
      .filter((a): a is Multiaddr => a != null)
  }

  /**
   * Dials only a member's direct addresses, also while a relayed connection is open (libp2p would
   * hand that one back): a peer behind our own NAT is on our LAN, and its LAN addresses answer
   * without any punching — behind a router that does not hairpin they are the only way.
   */
  async dialDirect(peerId: string): Promise<Connection | null> {
    const direct = this.directAddrs(peerId)
    if (direct.length === 0) return null
    return this.host.dial(direct, {
      signal: AbortSignal.timeout(DIRECT_SAME_NAT_DIAL_TIMEOUT_MS),
      force: true,
    })
  }

  /** Lower is better: connected relays by RTT, then unconnected ones. */
  private relayScore(circuit: Multiaddr): number {
    const relay = relayIdOf(circuit.toString())
    if (relay == null) return Number.POSITIVE_INFINITY
    const conn = this.best(relay)
    if (conn == null || isRelayed(conn)) return RELAY_SCORE_DISCONNECTED
    return this.relayRtts.get(relay) ?? RELAY_SCORE_UNKNOWN
  }

  /** Relay circuit addresses we currently hold reservations on (ours, announced in our record). */
  circuitAddrs(): string[] {
    return this.host
      .getMultiaddrs()
      .map((a) => a.toString())
      .filter((a) => a.includes('/p2p-circuit') && this.init.underlay(a))
      .map((a) => a.replace(/\/p2p\/[^/]+$/, ''))
  }

  /**
   * No relay to consider and none ranked (so none reserved): maintenance has nothing to do. Asked
   * first because reading our circuit addresses walks libp2p's whole address list (issue 14: idle
   * CPU of networks on one LAN, which have no relay).
   */
  relaysIdle(): boolean {
    return this.relayRtts.size === 0 && this.init.relayCandidates().length === 0
  }

  /** Keeps reservations on the (up to) RESERVED_RELAYS member relays with the lowest RTT. */
  async maintainReservations(): Promise<void> {
    if (!this.init.holdReservations()) return
    const candidates = this.init.relayCandidates()
    for (const relay of candidates) {
      try {
        const conn = this.best(relay) ?? (await this.connect(relay))
        // the connection's keepalive already knows (no bytes); a ping only before its first pong
        // or while it is overdue (issue 14: a ping stream per relay every 5 s was ~200 B/s each)
        const rtt = keepaliveOf(conn)?.rttMs ?? (await pingConnection(conn, RELAY_PING_TIMEOUT_MS))
        this.relayRtts.set(relay, rtt)
      } catch (err) {
        this.relayRtts.delete(relay)
        this.log.debug('relay unreachable', { relay, error: (err as Error).message })
      }
    }
    for (const r of [...this.relayRtts.keys()]) if (!candidates.includes(r)) this.relayRtts.delete(r)
    const chosen = [...this.relayRtts.entries()]
      .sort((a, b) => a[1] - b[1])
      .slice(0, RESERVED_RELAYS)
      .map(([id]) => id)
    const held = new Set(this.circuitAddrs().map(relayIdOf))
    for (const relay of chosen) {
      if (held.has(relay)) continue
      const conn = this.best(relay)
      if (conn == null || isRelayed(conn)) continue
      try {
        await this.adapter.reserveOn(relay)
        this.log.info('relay reservation', { relay, rttMs: this.relayRtts.get(relay) })
      } catch (err) {
        this.log.warn('relay reservation failed', { relay, error: (err as Error).message })
      }
    }
  }
}

function isLoopback(addr: string): boolean {
  return /^\/ip4\/127\.|^\/ip6\/::1\//.test(addr)
}

/** One circuit address per relay, preferring a non-loopback relay address. */
/** The relay's peer id in a circuit address or a relayed connection's remote address, or null. */
export function relayIdOf(addr: string): string | null {
  return /\/p2p\/([^/]+)\/p2p-circuit/.exec(addr)?.[1] ?? null
}

function onePerRelay(circuits: string[]): string[] {
  const byRelay = new Map<string, string>()
  for (const c of circuits) {
    const relay = relayIdOf(c)
    if (relay == null || isLoopback(c)) continue
    if (!byRelay.has(relay)) byRelay.set(relay, c)
  }
  return [...byRelay.values()]
}

function withPeer(addr: string, peerId: string): Multiaddr | null {
  try {
    const ma = multiaddr(addr)
    return addr.endsWith(`/p2p/${peerId}`) ? ma : multiaddr(`${addr}/p2p/${peerId}`)
  } catch {
    return null
  }
}

/** RTT of one specific connection (libp2p ping protocol on a stream of that connection). */
export async function pingConnection(conn: Connection, timeoutMs: number): Promise<number> {
  const signal = AbortSignal.timeout(timeoutMs)
  const stream = await conn.newStream('/ipfs/ping/1.0.0', { runOnLimitedConnection: true, signal })
  const data = crypto.getRandomValues(new Uint8Array(32))
  const start = performance.now()
  return new Promise<number>((resolve, reject) => {
    let got = 0
    const done = (err?: Error) => {
      signal.removeEventListener('abort', onAbort)
      if (err != null) {
        stream.abort(err)
        reject(err)
      } else {
        void stream.close().catch(() => {})
        resolve(performance.now() - start)
      }
    }
    const onAbort = () => done(new Error('ping timed out'))
    signal.addEventListener('abort', onAbort)
    stream.addEventListener('message', (evt) => {
      got += evt.data.byteLength
      if (got >= 32) done()
    })
    stream.addEventListener('close', () => {
      if (got < 32) done(new Error('ping stream closed'))
    })
    stream.send(data)
  })
}
