/**
 * Hole punching: our own DCUtR over TCP, wire-compatible with the libp2p spec (`/libp2p/dcutr`),
 * because stock js-libp2p can't do it through real NATs (ephemeral dial ports, lost initiator
 * flag, yamux roles taken from the socket direction, private candidates thrown away).
 *
 *   1. B receives a relayed connection from A and opens `/libp2p/dcutr` on it
 *   2. B → A  CONNECT(B's candidates); A → B CONNECT(A's candidates); B measures the RTT
 *   3. B → A  SYNC; A dials at once, B after RTT/2: both dial from their listening port
 *      (SO_REUSEPORT, native dialer), so a port-preserving NAT maps the dial to the port the other
 *      side aims at and the SYNs cross: TCP simultaneous open. A NAT that answers an early SYN
 *      with a RST refuses the dial: it is tried again from the same port, RTT-paced, for the whole
 *      window (punch-dial.ts), until the two SYNs meet open mappings
 *   4. the one socket both ends now hold is upgraded with roles agreed explicitly: the smaller peer
 *      id is the Noise initiator and the Yamux client (the socket's "direction" says nothing
 *      after a simultaneous open). When the peer's SYN slipped in between two of our tries, our
 *      listener accepted it (our next try finds the address pair taken: we wait for that inbound
 *      connection) and the peer, hearing nothing from a listener that only answers, takes the
 *      initiator's part (PUNCH_FIRST_BYTES_MS)
 *   5. the pump moves the tunnel onto the new direct connection; the relayed one stays as the
 *      fallback
 *
 * Candidates: the public address a member observed for us (`/meshlan/observe/1.0.0`) with our
 * listen port, and our LAN addresses; what we dial of the peer's is bounded (candidates.ts).
 *
 * Bounds against a hostile member (issue 8 §5): the responder serves members on relayed
 * connections only, one exchange per peer per PUNCH_RESPONDER_BACKOFF_MS (a peer that asks again
 * sooner is refused), and dials at most MAX_PUNCH_DIALS of its candidates. Refusals and dropped
 * candidates are counted (`stats()`) and logged rate-limited.
 */
import type { Socket } from 'node:net'
import type { Connection, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { AddressInUseError, dialFromPort } from '@meshlan/tun'
import { DCUTR_CONNECT, DCUTR_SYNC, decodeHolePunch, encodeHolePunch, MAX_DCUTR_MESSAGE } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import { type IpFamily, ipFamily, tcpAddr } from '../ip-family.ts'
import { type Logger, RateLimitedLog } from '../logger.ts'
import { PeerWindow } from './backoff.ts'
import { type Candidate, selectCandidates, toCandidates } from './candidates.ts'
import {
  DCUTR_EXCHANGE_TIMEOUT_MS,
  DCUTR_MAX_STREAMS,
  DCUTR_OPEN_TIMEOUT_MS,
  DCUTR_PROTOCOL,
  MAX_OBSERVE_ANSWER,
  MAX_PUNCH_ATTEMPTS,
  OBSERVE_MAX_STREAMS,
  OBSERVE_PROTOCOL,
  OBSERVE_TIMEOUT_MS,
  PUNCH_FIRST_BYTES_MS,
  PUNCH_IPV6_GRACE_MAX_MS,
  PUNCH_IPV6_GRACE_MIN_MS,
  PUNCH_REFUSAL_LOG_MS,
  PUNCH_RESPONDER_BACKOFF_MS,
  PUNCH_STAGGER_MS,
  PUNCH_TIMEOUT_MS,
  UPGRADE_TIMEOUT_MS,
} from './constants.ts'
import type { ReachabilityHost } from './host.ts'
import type { Libp2pAdapter, UpgradeRole } from './libp2p-adapter.ts'
import { isRelayed } from './paths.ts'
import {
  AttemptBudget,
  dialThroughRefusals,
  discardPunched,
  peerSpeaksWithin,
  retryPaceMs,
  silentRedialMs,
} from './punch-dial.ts'
import { pickPreferred } from './punch-pick.ts'

export { candidateAddrs } from './candidates.ts'
export { DCUTR_PROTOCOL, OBSERVE_PROTOCOL } from './constants.ts'

export type PunchResult =
  | { ok: true; conn: Connection; ms: number; addr: string }
  | {
      ok: false
      reason: 'symmetric-nat' | 'punch-failed' | 'no-candidates'
      detail: string
      attempts?: number
    }

/** The dialer's shape (`@meshlan/tun` dialFromPort); replaceable in tests that count dials. */
export type PortDialer = typeof dialFromPort

/** How a handler is registered (libp2p's own, or the membership gate's). */
export type StreamHandle = (
  protocol: string,
  handler: StreamHandler,
  options: StreamHandlerOptions,
) => Promise<void>

export interface HolePuncherInit {
  /** The libp2p node's connections, handlers and adapter. */
  host: ReachabilityHost
  /**
   * Registers our protocol handlers; the node passes the membership gate's, so DCUtR and observe
   * are closed to unproven peers from the first moment.
   * @default libp2p.handle
   */
  handle?: StreamHandle
  log: Logger
  selfId: string
  /** Our TCP listen port for a family (the one the dialer binds), or null when we have none. */
  listenPort(family: IpFamily): number | null
  /** Our candidate addresses for a CONNECT message. */
  candidates(): string[]
  /** Public address (ip) members observed for us, if any: to spot a shared NAT. */
  observedIps(): string[]
  isMember(peerId: string): boolean
  /** False for IPs inside the overlay subnet: never punch through our own tunnel. */
  underlay(ip: string): boolean
  /** Whether the peer's signed record puts it behind our NAT (LAN candidates allowed). @default none */
  sharesNat?(peerId: string): boolean
  /** IPs of the peer's own signed NAT mapping (its record's `observed`). @default none */
  peerMappedIps?(peerId: string): string[]
  onResult(peerId: string, result: PunchResult): void
  /** @default dialFromPort */
  dial?: PortDialer
}

/** Counters of refused exchanges and candidates left out (see `stats()`). */
export interface PunchStats {
  /** CONNECTs refused: not a member / not relayed, asked again within the back-off, bad message */
  refusedNotMember: number
  refusedBackoff: number
  refusedBadMessage: number
  /** remote candidates left out: inside the overlay, LAN without a shared NAT, over the cap */
  droppedOverlay: number
  droppedLan: number
  droppedCapped: number
  /** dials we started (both roles), every retry after a refusal included */
  dials: number
  /** punches won by the peer's SYN reaching our listener between two of our tries */
  viaListener: number
}

export class HolePuncher {
  private readonly init: HolePuncherInit
  private readonly log: Logger
  private readonly refusals: RateLimitedLog
  private readonly inFlight = new Set<string>()
  private readonly window = new PeerWindow(PUNCH_RESPONDER_BACKOFF_MS)
  private readonly dial: PortDialer
  private readonly counters: PunchStats = {
    refusedNotMember: 0,
    refusedBackoff: 0,
    refusedBadMessage: 0,
    droppedOverlay: 0,
    droppedLan: 0,
    droppedCapped: 0,
    dials: 0,
    viaListener: 0,
  }

  constructor(init: HolePuncherInit) {
    this.init = init
    this.log = init.log
    this.refusals = new RateLimitedLog(init.log, PUNCH_REFUSAL_LOG_MS)
    this.dial = init.dial ?? dialFromPort
  }

  private get adapter(): Libp2pAdapter {
    return this.init.host.adapter
  }

  stats(): PunchStats {
    return { ...this.counters }
  }

  async start(): Promise<void> {
    const host = this.init.host
    const handle: StreamHandle = this.init.handle ?? ((p, h, o) => host.handle(p, h, o))
    await handle(DCUTR_PROTOCOL, (stream, conn) => void this.respond(stream, conn), {
      runOnLimitedConnection: true,
      maxInboundStreams: DCUTR_MAX_STREAMS,
      maxOutboundStreams: DCUTR_MAX_STREAMS,
    })
    await handle(
      OBSERVE_PROTOCOL,
      async (stream, conn) => {
        const s = lpStream(stream, { maxDataLength: MAX_OBSERVE_ANSWER })
        await s.write(new TextEncoder().encode(conn.remoteAddr.toString())).catch(() => {})
        await stream.close().catch(() => {})
      },
      {
        runOnLimitedConnection: false,
        maxInboundStreams: OBSERVE_MAX_STREAMS,
        maxOutboundStreams: OBSERVE_MAX_STREAMS,
      },
    )
  }

  async stop(): Promise<void> {
    await this.init.host.unhandle([DCUTR_PROTOCOL, OBSERVE_PROTOCOL]).catch(() => {})
  }

  /** Asks a peer which address it sees us at on this connection. */
  async observe(conn: Connection): Promise<string | null> {
    try {
      const stream = await conn.newStream(OBSERVE_PROTOCOL, {
        signal: AbortSignal.timeout(OBSERVE_TIMEOUT_MS),
      })
      const s = lpStream(stream, { maxDataLength: MAX_OBSERVE_ANSWER })
      const bytes = await s.read({ signal: AbortSignal.timeout(OBSERVE_TIMEOUT_MS) })
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
        signal: AbortSignal.timeout(DCUTR_OPEN_TIMEOUT_MS),
      })
      const lp = lpStream(stream, { maxDataLength: MAX_DCUTR_MESSAGE })
      const signal = AbortSignal.timeout(DCUTR_EXCHANGE_TIMEOUT_MS)
      const t0 = performance.now()
      await lp.write(encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: this.ourAddrs() }), { signal })
      const reply = decodeHolePunch((await lp.read({ signal })).subarray())
      const rtt = performance.now() - t0
      if (!reply.ok || reply.value.type !== DCUTR_CONNECT)
        throw new Error(`bad CONNECT reply: ${reply.ok ? 'type' : reply.reason}`)
      await lp.write(encodeHolePunch({ type: DCUTR_SYNC, obsAddrs: [] }), { signal })
      await stream.close().catch(() => {})
      await new Promise((r) => setTimeout(r, rtt / 2))
      const result = await this.punch(peer, toCandidates(reply.value.obsAddrs), rtt)
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

  private refuse(stream: Stream, peer: string, counter: keyof PunchStats, why: string): void {
    this.counters[counter]++
    this.refusals.debug('dcutr request refused', { peer, why })
    stream.abort(new Error(why))
  }

  /** A's side: bounded (members on relayed connections, one exchange per back-off, capped dials). */
  private async respond(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    if (!this.init.isMember(peer) || !isRelayed(conn)) {
      this.refuse(stream, peer, 'refusedNotMember', 'hole punching is for members on relayed connections')
      return
    }
    if (this.inFlight.has(peer) || !this.window.admit(peer, Date.now())) {
      this.refuse(
        stream,
        peer,
        'refusedBackoff',
        `one hole punch per ${PUNCH_RESPONDER_BACKOFF_MS} ms: retry later`,
      )
      return
    }
    this.inFlight.add(peer)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_DCUTR_MESSAGE })
      const signal = AbortSignal.timeout(DCUTR_EXCHANGE_TIMEOUT_MS)
      const connect = decodeHolePunch((await lp.read({ signal })).subarray())
      if (!connect.ok || connect.value.type !== DCUTR_CONNECT) {
        this.refuse(
          stream,
          peer,
          'refusedBadMessage',
          `expected CONNECT: ${connect.ok ? 'wrong type' : connect.reason}`,
        )
        return
      }
      const t0 = performance.now()
      await lp.write(encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: this.ourAddrs() }), { signal })
      const sync = decodeHolePunch((await lp.read({ signal })).subarray())
      // our CONNECT out, the SYNC back: one relay round trip, the pace of our retries
      const rtt = performance.now() - t0
      if (!sync.ok || sync.value.type !== DCUTR_SYNC) {
        this.refuse(
          stream,
          peer,
          'refusedBadMessage',
          `expected SYNC: ${sync.ok ? 'wrong type' : sync.reason}`,
        )
        return
      }
      await stream.close().catch(() => {})
      const result = await this.punch(peer, toCandidates(connect.value.obsAddrs), rtt)
      this.init.onResult(peer, result)
    } catch (err) {
      this.log.debug('dcutr responder failed', { peer, error: (err as Error).message })
      stream.abort(err as Error)
    } finally {
      this.inFlight.delete(peer)
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

  /**
   * Dials the selected candidates from our listening port at once, each through refusals (RTT
   * paced, one attempt budget for all); the first socket wins, or the peer's inbound connection
   * when its SYN reached our listener first.
   */
  private async punch(peerId: string, remote: Candidate[], rttMs: number): Promise<PunchResult> {
    const portOf = (c: Candidate) => this.init.listenPort(ipFamily(c.ip) ?? 'ipv4')
    const { dial: selected, dropped } = selectCandidates(remote, {
      underlay: (ip) => this.init.underlay(ip),
      ourObserved: new Set(this.init.observedIps()),
      sharesNat: this.init.sharesNat?.(peerId) ?? false,
      peerMapped: new Set(this.init.peerMappedIps?.(peerId) ?? []),
    })
    this.counters.droppedOverlay += dropped.overlay
    this.counters.droppedLan += dropped.lan
    this.counters.droppedCapped += dropped.capped
    if (dropped.lan + dropped.capped > 0)
      this.refusals.debug('punch candidates left out', { peer: peerId, ...dropped })
    // a family we do not listen on has no port to punch from
    const dial = selected.filter((c) => portOf(c) != null)
    if (dial.length === 0) {
      return { ok: false, reason: 'no-candidates', detail: 'no TCP candidates to punch' }
    }
    const started = performance.now()
    const deadline = started + PUNCH_TIMEOUT_MS
    const paceMs = retryPaceMs(rttMs)
    const budget = new AttemptBudget(MAX_PUNCH_ATTEMPTS)
    const ac = new AbortController()
    type Won = { socket: Socket; c: Candidate } | { conn: Connection; c: Candidate }
    const attempts = dial.map((c, i) =>
      (async (): Promise<Won> => {
        // stagger a little so the preferred candidate gets its SYN out first
        if (i > 0) await new Promise((r) => setTimeout(r, PUNCH_STAGGER_MS * i))
        ac.signal.throwIfAborted()
        try {
          const { socket } = await dialThroughRefusals({
            dial: this.dial,
            localPort: portOf(c) ?? 0,
            remoteAddress: c.ip,
            remotePort: c.port,
            deadline,
            paceMs,
            budget,
            // re-send silent tries too (PUNCH_SILENT_REDIAL_*)
            silentRedialMs: silentRedialMs(rttMs),
            signal: ac.signal,
            onAttempt: () => this.counters.dials++,
          })
          return { socket, c }
        } catch (err) {
          // the pair is taken: the peer's SYN came in between two tries and our listener has it
          if (!(err instanceof AddressInUseError)) throw err
          const conn = await this.inboundFrom(peerId, deadline, ac.signal)
          if (conn == null) throw err
          this.counters.viaListener++
          return { conn, c }
        }
      })(),
    )
    let won: Won
    try {
      // IPv6 when it connected (both sides apply the same rule: see punch-pick.ts)
      const grace = Math.min(PUNCH_IPV6_GRACE_MAX_MS, Math.max(PUNCH_IPV6_GRACE_MIN_MS, rttMs))
      won = await pickPreferred(
        attempts,
        dial.map((c) => ipFamily(c.ip) === 'ipv6'),
        grace,
      )
    } catch (err) {
      const errs = ((err as AggregateError).errors ?? [err]) as Error[]
      return {
        ok: false,
        reason: 'punch-failed',
        detail: errs.map((e) => e.message).join('; '),
        attempts: budget.used,
      }
    } finally {
      ac.abort()
    }
    // close the losers that connected anyway
    void Promise.allSettled(attempts).then((rs) => {
      for (const r of rs)
        if (r.status === 'fulfilled' && r.value !== won && 'socket' in r.value) discardPunched(r.value.socket)
    })
    const addr = tcpAddr(won.c.ip, won.c.port)
    if ('conn' in won) return { ok: true, conn: won.conn, ms: performance.now() - started, addr }
    try {
      // the smaller peer id initiates (Noise initiator, Yamux client): a simultaneous open has no
      // direction, so both sides must agree without talking; a silent peer is a listener (above)
      let role: UpgradeRole = this.init.selfId < peerId ? 'initiator' : 'responder'
      if (role === 'responder' && !(await peerSpeaksWithin(won.socket, PUNCH_FIRST_BYTES_MS))) {
        this.counters.viaListener++
        role = 'initiator'
      }
      const conn = await this.adapter.upgradeSocket(won.socket, role, {
        signal: AbortSignal.timeout(UPGRADE_TIMEOUT_MS),
        component: 'meshlan:holepunch',
      })
      return { ok: true, conn, ms: performance.now() - started, addr }
    } catch (err) {
      discardPunched(won.socket)
      return { ok: false, reason: 'punch-failed', detail: `upgrade failed: ${(err as Error).message}` }
    }
  }

  /** A direct connection from the peer that opens (or is open) before the deadline, or null. */
  private inboundFrom(peerId: string, deadline: number, signal: AbortSignal): Promise<Connection | null> {
    const direct = (c: Connection) =>
      c.remotePeer.toString() === peerId && !isRelayed(c) && c.status === 'open'
    const now = this.init.host.getConnections().find(direct)
    if (now != null) return Promise.resolve(now)
    return new Promise((resolve) => {
      const done = (c: Connection | null) => {
        clearTimeout(timer)
        off()
        signal.removeEventListener('abort', onAbort)
        resolve(c)
      }
      const off = this.init.host.onConnectionOpen((c) => {
        if (direct(c)) done(c)
      })
      const onAbort = () => done(null)
      const timer = setTimeout(() => done(null), Math.max(0, deadline - performance.now()))
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
