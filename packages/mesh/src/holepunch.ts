/**
 * Hole punching: our own DCUtR over TCP, wire-compatible with the libp2p spec (`/libp2p/dcutr`),
 * because stock js-libp2p can't do it through real NATs (ephemeral dial ports, lost initiator
 * flag, yamux roles taken from the socket direction, private candidates thrown away).
 *
 *   1. B receives a relayed connection from A and opens `/libp2p/dcutr` on it
 *   2. B → A  CONNECT(B's candidates); A → B CONNECT(A's candidates); B measures the RTT
 *   3. B → A  SYNC; A dials at once, B after RTT/2: both dial from their listening port
 *      (SO_REUSEPORT, native dialer), so a port-preserving NAT maps the dial to the port the other
 *      side aims at and the SYNs cross: TCP simultaneous open
 *   4. the one socket both ends now hold is upgraded with roles agreed explicitly: the smaller peer
 *      id is the Noise initiator and the Yamux client (the socket's "direction" says nothing
 *      after a simultaneous open)
 *   5. the pump moves the tunnel onto the new direct connection; the relayed one stays as the
 *      fallback
 *
 * Candidates: the public address a member observed for us (`/meshlan/observe/1.0.0`) with our
 * listen port — private and CGNAT ranges included, since the observation says they are the
 * mapping — and our LAN addresses, tried first when both sides share an observed address.
 */
import type { Socket } from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { dialFromPort } from '@meshlan/tun'
import { DCUTR_CONNECT, DCUTR_SYNC, decodeHolePunch, encodeHolePunch } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.ts'
import { isRelayed } from './paths.ts'
import { socketToConnection } from './socket-conn.ts'
import type { Internals, MeshLibp2p } from './transport.ts'

export const DCUTR_PROTOCOL = '/libp2p/dcutr'
export const OBSERVE_PROTOCOL = '/meshlan/observe/1.0.0'
const MAX_MSG = 4096
const PUNCH_TIMEOUT_MS = 5000

export type PunchResult =
  | { ok: true; conn: Connection; ms: number; addr: string }
  | { ok: false; reason: 'symmetric-nat' | 'punch-failed' | 'no-candidates'; detail: string }

export interface HolePuncherInit {
  libp2p: MeshLibp2p
  log: Logger
  selfId: string
  /** Our TCP listen port (the one the dialer binds), or null when we have none. */
  listenPort(): number | null
  /** Our candidate addresses for a CONNECT message. */
  candidates(): string[]
  /** Public address (ip) members observed for us, if any: to spot a shared NAT. */
  observedIps(): string[]
  isMember(peerId: string): boolean
  /** False for IPs inside the overlay subnet: never punch through our own tunnel. */
  underlay(ip: string): boolean
  onResult(peerId: string, result: PunchResult): void
}

interface Candidate {
  ip: string
  port: number
}

function toCandidates(addrs: Uint8Array[] | string[]): Candidate[] {
  const out: Candidate[] = []
  for (const a of addrs) {
    try {
      const ma = typeof a === 'string' ? multiaddr(a) : multiaddr(a)
      const parts = ma.getComponents()
      const ip = parts.find((p) => p.name === 'ip4')?.value
      const port = parts.find((p) => p.name === 'tcp')?.value
      if (ip != null && port != null && !ip.startsWith('127.') && ip !== '0.0.0.0')
        out.push({ ip, port: Number(port) })
    } catch {
      // not a multiaddr we can use: skip it
    }
  }
  return out
}

export class HolePuncher {
  private readonly init: HolePuncherInit
  private readonly log: Logger
  private readonly inFlight = new Set<string>()

  constructor(init: HolePuncherInit) {
    this.init = init
    this.log = init.log
  }

  async start(): Promise<void> {
    const lp = this.init.libp2p
    await lp.handle(DCUTR_PROTOCOL, (stream, conn) => void this.respond(stream, conn), {
      runOnLimitedConnection: true,
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    })
    await lp.handle(
      OBSERVE_PROTOCOL,
      async (stream, conn) => {
        const s = lpStream(stream, { maxDataLength: 1024 })
        await s.write(new TextEncoder().encode(conn.remoteAddr.toString())).catch(() => {})
        await stream.close().catch(() => {})
      },
      { runOnLimitedConnection: false, maxInboundStreams: 8, maxOutboundStreams: 8 },
    )
  }

  /** Asks a peer which address it sees us at on this connection. */
  async observe(conn: Connection): Promise<string | null> {
    try {
      const stream = await conn.newStream(OBSERVE_PROTOCOL, { signal: AbortSignal.timeout(3000) })
      const s = lpStream(stream, { maxDataLength: 1024 })
      const bytes = await s.read({ signal: AbortSignal.timeout(3000) })
      await stream.close().catch(() => {})
      const text = new TextDecoder().decode(bytes.subarray())
      multiaddr(text)
      return text
    } catch {
      return null
    }
  }

  /** B's side: a member reached us through a relay; try to get a direct connection. */
  async initiate(conn: Connection): Promise<PunchResult> {
    const peer = conn.remotePeer.toString()
    if (this.inFlight.has(peer)) return { ok: false, reason: 'punch-failed', detail: 'already punching' }
    this.inFlight.add(peer)
    try {
      const stream = await conn.newStream(DCUTR_PROTOCOL, {
        runOnLimitedConnection: true,
        signal: AbortSignal.timeout(5000),
      })
      const lp = lpStream(stream, { maxDataLength: MAX_MSG })
      const signal = AbortSignal.timeout(10_000)
      const t0 = performance.now()
      await lp.write(encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: this.ourAddrs() }), { signal })
      const reply = decodeHolePunch((await lp.read({ signal })).subarray())
      const rtt = performance.now() - t0
      if (!reply.ok || reply.value.type !== DCUTR_CONNECT)
        throw new Error(`bad CONNECT reply: ${reply.ok ? 'type' : reply.reason}`)
      await lp.write(encodeHolePunch({ type: DCUTR_SYNC, obsAddrs: [] }), { signal })
      await stream.close().catch(() => {})
      await new Promise((r) => setTimeout(r, rtt / 2))
      const result = await this.punch(peer, toCandidates(reply.value.obsAddrs))
      this.init.onResult(peer, result)
      return result
    } catch (err) {
      const result: PunchResult = { ok: false, reason: 'punch-failed', detail: (err as Error).message }
      this.init.onResult(peer, result)
      return result
    } finally {
      this.inFlight.delete(peer)
    }
  }

  /** A's side. */
  private async respond(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    if (!this.init.isMember(peer) || !isRelayed(conn)) {
      stream.abort(new Error('hole punching is for members on relayed connections'))
      return
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_MSG })
      const signal = AbortSignal.timeout(10_000)
      const connect = decodeHolePunch((await lp.read({ signal })).subarray())
      if (!connect.ok || connect.value.type !== DCUTR_CONNECT) throw new Error('expected CONNECT')
      await lp.write(encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: this.ourAddrs() }), { signal })
      const sync = decodeHolePunch((await lp.read({ signal })).subarray())
      if (!sync.ok || sync.value.type !== DCUTR_SYNC) throw new Error('expected SYNC')
      await stream.close().catch(() => {})
      if (this.inFlight.has(peer)) return
      this.inFlight.add(peer)
      try {
        const result = await this.punch(peer, toCandidates(connect.value.obsAddrs))
        this.init.onResult(peer, result)
      } finally {
        this.inFlight.delete(peer)
      }
    } catch (err) {
      this.log.debug('dcutr responder failed', { peer, error: (err as Error).message })
      stream.abort(err as Error)
    }
  }

  private ourAddrs(): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const a of this.init.candidates()) {
      try {
        out.push(multiaddr(a).bytes)
      } catch {}
    }
    return out
  }

  /** Dials every candidate from our listening port at once; the first socket wins. */
  private async punch(peerId: string, remote: Candidate[]): Promise<PunchResult> {
    const port = this.init.listenPort()
    remote = remote.filter((c) => this.init.underlay(c.ip))
    if (port == null || remote.length === 0) {
      return { ok: false, reason: 'no-candidates', detail: 'no TCP candidates to punch' }
    }
    // peers behind the same NAT (same observed public address) try their LAN addresses first;
    // everybody else tries public candidates first
    const ours = new Set(this.init.observedIps())
    const sharesNat = remote.some((c) => ours.has(c.ip))
    // candidates arrive public-first; behind a shared NAT the shared public address goes last
    const sorted = sharesNat
      ? [...remote].sort((a, b) => Number(ours.has(a.ip)) - Number(ours.has(b.ip)))
      : remote
    const started = performance.now()
    const ac = new AbortController()
    const attempts = sorted.slice(0, 6).map((c, i) =>
      (async (): Promise<{ socket: Socket; c: Candidate }> => {
        // stagger a little so the preferred candidate gets its SYN out first
        if (i > 0) await new Promise((r) => setTimeout(r, 20 * i))
        const socket = await dialFromPort({
          localPort: port,
          remoteAddress: c.ip,
          remotePort: c.port,
          timeoutMs: PUNCH_TIMEOUT_MS,
          signal: ac.signal,
        })
        return { socket, c }
      })(),
    )
    let won: { socket: Socket; c: Candidate }
    try {
      won = await Promise.any(attempts)
    } catch (err) {
      const errs = ((err as AggregateError).errors ?? [err]) as Error[]
      return { ok: false, reason: 'punch-failed', detail: errs.map((e) => e.message).join('; ') }
    } finally {
      ac.abort()
    }
    // close the losers that connected anyway
    void Promise.allSettled(attempts).then((rs) => {
      for (const r of rs)
        if (r.status === 'fulfilled' && r.value.socket !== won.socket) r.value.socket.destroy()
    })
    try {
      const conn = await this.upgrade(won.socket, peerId)
      return { ok: true, conn, ms: performance.now() - started, addr: `/ip4/${won.c.ip}/tcp/${won.c.port}` }
    } catch (err) {
      won.socket.destroy()
      return { ok: false, reason: 'punch-failed', detail: `upgrade failed: ${(err as Error).message}` }
    }
  }

  /** Noise + Yamux over the punched socket; the smaller peer id initiates. */
  private async upgrade(socket: Socket, peerId: string): Promise<Connection> {
    const { components } = this.init.libp2p.services.internals as Internals
    const initiator = this.init.selfId < peerId
    const log = components.logger.forComponent('meshlan:holepunch')
    const maConn = socketToConnection(socket, initiator ? 'outbound' : 'inbound', log)
    const signal = AbortSignal.timeout(10_000)
    if (initiator) return components.upgrader.upgradeOutbound(maConn, { signal })
    // the responder's connection is announced by the upgrader; wait for it
    const opened = new Promise<Connection>((resolve, reject) => {
      const onOpen = (evt: CustomEvent<Connection>): void => {
        const c = evt.detail
        // the upgraded connection's address carries /p2p/<id>: compare the transport part
        const base = maConn.remoteAddr.toString()
        if (c.remotePeer.toString() === peerId && !isRelayed(c) && c.remoteAddr.toString().startsWith(base)) {
          this.init.libp2p.removeEventListener('connection:open', onOpen)
          resolve(c)
        }
      }
      this.init.libp2p.addEventListener('connection:open', onOpen)
      signal.addEventListener('abort', () => {
        this.init.libp2p.removeEventListener('connection:open', onOpen)
        reject(new Error('upgrade timed out'))
      })
    })
    await components.upgrader.upgradeInbound(maConn, { signal })
    return opened
  }
}

export function candidateAddrs(observedIps: string[], lanIps: string[], port: number): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const ip of [...observedIps, ...lanIps]) {
    if (seen.has(ip)) continue
    seen.add(ip)
    out.push(`/ip4/${ip}/tcp/${port}`)
  }
  return out
}
