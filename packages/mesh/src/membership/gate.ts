/**
 * The membership gate: the one door into a node. Until a peer has proven membership with the hello
 * handshake (`/meshlan/hello/1.0.0`, docs/protocol.md), it reaches nothing else: every other
 * protocol handler — ours and libp2p's (gossipsub, identify, ping, circuit relay) — is wrapped so a
 * stream from an unproven peer waits, unread, until the handshake admits it, and is aborted if that
 * does not happen within HELLO_TIMEOUT_MS. Nothing a peer sends before that is parsed beyond one
 * bounded hello message.
 *
 *   dialler → listener   offer: our proof (a claim, or "owner")
 *   listener → dialler   answer: admitted + its own proof, or refused + reason
 *
 * The listener reveals nothing, not even its claim, before the offer proved membership. A peer
 * refused, or silent past the timeout, is hung up on and may not connect again for
 * REFUSED_BACKOFF_MS. When the policy changes or a key expires every admitted peer is decided
 * again; one that is no longer a member is cut off.
 */
import { EventEmitter } from 'node:events'
import type {
  Connection,
  Libp2pEvents,
  PeerId,
  Stream,
  StreamHandler,
  TypedEventTarget,
} from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { lpStream } from '@libp2p/utils'
import {
  claimToString,
  decodeHelloAnswer,
  decodeHelloOffer,
  encodeHelloAnswer,
  encodeHelloOffer,
  fromBase64,
  type HelloProof,
  MAX_HELLO_BYTES,
} from '@meshlan/wire'
import {
  HELLO_PROTOCOL,
  HELLO_TIMEOUT_MS,
  MAX_REFUSED_PEERS,
  REFUSED_BACKOFF_MS,
  REVOKE_HANGUP_DELAY_MS,
} from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { Membership, PolicyStore } from './policy-store.ts'

export interface GateComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
}

export interface GateInit {
  store: PolicyStore
  selfId: string
  /** Our membership claim (base64 envelope); null on the owner. */
  claim: string | null
  log: Logger
}

export interface GateEvents {
  /**
   * The handshake on `conn` succeeded: the peer proved membership to us (or, before we hold a
   * policy, it is the owner or a bootstrap peer that admitted us) — sync and gossip may start.
   */
  ready: [peerId: string, conn: Connection]
  /** An admitted peer is no longer a member. */
  expelled: [peerId: string, reason: string]
}

/**
 * Most streams of one unproven peer allowed to wait for its handshake at once: a member needs a
 * few (gossipsub, sync, ping racing the hello); a stranger gets no more than that.
 */
const MAX_WAITING_STREAMS_PER_PEER = 4
/** Most waiting streams of all unproven peers together (each holds at most WAITING_STREAM_BYTES). */
const MAX_WAITING_STREAMS = 256
/**
 * What a waiting stream may buffer unread. More aborts it: nothing an unproven peer sends is held
 * beyond this (libp2p buffers a stream's data until its handler listens).
 */
const WAITING_STREAM_BYTES = 4096

export class MembershipGate extends EventEmitter<GateEvents> {
  private readonly init: GateInit
  private readonly components: GateComponents
  private readonly admitted = new Map<string, { membership: Membership; claim: string | null }>()
  /** Peers whose proof arrived before we held a policy (a newcomer's bootstrap peers). */
  private readonly pending = new Map<string, string | null>()
  private readonly refused = new Map<string, number>()
  private readonly waiters = new Map<string, Array<(ok: boolean) => void>>()
  private waiting = 0
  private readonly wrapped = new WeakSet<StreamHandler>()
  private readonly proof: HelloProof
  /** Counters for status: streams refused before membership, handshakes refused. */
  readonly counters = { refusedStreams: 0, refusedHellos: 0, expelled: 0 }
  private readonly onOpen = (evt: CustomEvent<Connection>): void => this.onConnection(evt.detail)
  private lastRefusal: string | null = null

  constructor(init: GateInit, components: GateComponents) {
    super()
    this.init = init
    this.components = components
    const claim = init.claim == null ? null : fromBase64(init.claim)
    this.proof = claim == null ? { kind: 'owner' } : { kind: 'claim', claim }
  }

  async start(): Promise<void> {
    await this.components.registrar.handle(HELLO_PROTOCOL, (s, c) => this.onHello(s, c), {
      runOnLimitedConnection: true,
      maxInboundStreams: 2,
      maxOutboundStreams: 2,
    })
    this.components.events.addEventListener('connection:open', this.onOpen)
  }

  /** Wraps every handler registered so far (libp2p's services register theirs in start()). */
  afterStart(): Promise<void> {
    return this.wrapAll()
  }

  /** Wraps every registered handler not wrapped yet; idempotent. */
  async wrapAll(): Promise<void> {
    const { registrar } = this.components
    for (const protocol of registrar.getProtocols()) {
      if (protocol === HELLO_PROTOCOL) continue
      const rec = registrar.getHandler(protocol)
      if (this.wrapped.has(rec.handler)) continue
      await registrar.handle(protocol, this.wrap(rec.handler), { ...rec.options, force: true })
    }
  }

  stop(): void {
    this.components.events.removeEventListener('connection:open', this.onOpen)
    for (const list of this.waiters.values()) for (const w of list) w(false)
    this.waiters.clear()
  }

  /** Registers one of our own protocols, gated from the start. */
  handle(
    protocol: string,
    handler: StreamHandler,
    options: Parameters<Registrar['handle']>[2],
  ): Promise<void> {
    return this.components.registrar.handle(protocol, this.wrap(handler), options)
  }

  isAdmitted(peerId: string): boolean {
    return this.admitted.has(peerId)
  }

  /** A bootstrap peer a newcomer talks to before it holds a policy (not admitted yet). */
  isPending(peerId: string): boolean {
    return this.pending.has(peerId)
  }

  membershipOf(peerId: string): Membership | null {
    return this.admitted.get(peerId)?.membership ?? null
  }

  admittedPeers(): string[] {
    return [...this.admitted.keys()]
  }

  /** Why the last peer refused us (for status), if it did. */
  get refusal(): string | null {
    return this.lastRefusal
  }

  /** For the connection gater: peers refused recently, and revoked nodes. */
  denies(peer: PeerId): boolean {
    const id = peer.toString()
    if (this.init.store.isRevokedNode(id)) return true
    const until = this.refused.get(id)
    if (until == null) return false
    if (until > Date.now()) return true
    this.refused.delete(id)
    return false
  }

  /** Decides every admitted (and pending) peer again: after a policy change or at a key expiry. */
  async revalidate(now = Date.now()): Promise<void> {
    for (const [peerId, claim] of [...this.pending]) {
      this.pending.delete(peerId)
      const m = await this.init.store.membership(peerId, claim, now)
      const conn = this.components.connectionManager
        .getConnections()
        .find((c) => c.remotePeer.toString() === peerId)
      if (m.ok) {
        this.admit(peerId, m.value, claim, conn)
        continue
      }
      // a bootstrap peer that answered our hello but is no member under the real policy
      this.init.log.warn('peer is not a member', { peer: peerId, reason: m.reason })
      this.refuse(peerId)
      void this.hangUp(peerId)
    }
    for (const [peerId, a] of [...this.admitted]) {
      const m = await this.init.store.membership(peerId, a.claim, now)
      if (m.ok) {
        a.membership = m.value
        continue
      }
      this.expel(peerId, m.reason)
    }
  }

  /** The earliest time an admitted membership ends by itself (for the expiry timer). */
  nextExpiry(): number | null {
    let next: number | null = null
    for (const a of this.admitted.values()) {
      const t = a.membership.endsAt
      if (t != null && (next == null || t < next)) next = t
    }
    return next
  }

  /** Cuts a peer off: no longer admitted, refused for a while, hung up on after a moment. */
  expel(peerId: string, reason: string): void {
    if (!this.admitted.delete(peerId)) return
    this.counters.expelled++
    this.refuse(peerId)
    this.init.log.info('member expelled', { peer: peerId, reason })
    this.emit('expelled', peerId, reason)
    setTimeout(() => void this.hangUp(peerId), REVOKE_HANGUP_DELAY_MS).unref()
  }

  private wrap(handler: StreamHandler): StreamHandler {
    const gated: StreamHandler = async (stream, conn) => {
      const peer = conn.remotePeer.toString()
      if (!this.admitted.has(peer)) {
        const limit = stream.maxReadBufferLength
        stream.maxReadBufferLength = WAITING_STREAM_BYTES
        const ok = await this.waitAdmitted(peer)
        stream.maxReadBufferLength = limit
        if (!ok) {
          this.counters.refusedStreams++
          stream.abort(new Error('not a member: complete the hello handshake first'))
          return
        }
      }
      await handler(stream, conn)
    }
    this.wrapped.add(gated)
    return gated
  }

  private waitAdmitted(peer: string): Promise<boolean> {
    const list = this.waiters.get(peer) ?? []
    if (list.length >= MAX_WAITING_STREAMS_PER_PEER || this.waiting >= MAX_WAITING_STREAMS) {
      return Promise.resolve(false)
    }
    this.waiting++
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), HELLO_TIMEOUT_MS)
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        this.waiting--
        const l = this.waiters.get(peer)
        if (l != null) {
          const i = l.indexOf(done)
          if (i >= 0) l.splice(i, 1)
          if (l.length === 0) this.waiters.delete(peer)
        }
        resolve(ok)
      }
      list.push(done)
      this.waiters.set(peer, list)
    })
  }

  private admit(peerId: string, membership: Membership, claim: string | null, conn?: Connection): void {
    const first = !this.admitted.has(peerId)
    this.admitted.set(peerId, { membership, claim })
    this.refused.delete(peerId)
    for (const w of [...(this.waiters.get(peerId) ?? [])]) w(true)
    if (first) this.init.log.info('member admitted', { peer: peerId, key: membership.keyName })
    if (conn != null) this.emit('ready', peerId, conn)
  }

  private refuse(peerId: string): void {
    if (this.refused.size >= MAX_REFUSED_PEERS) {
      this.refused.delete(this.refused.keys().next().value as string)
    }
    this.refused.set(peerId, Date.now() + REFUSED_BACKOFF_MS)
  }

  private async hangUp(peerId: string): Promise<void> {
    if (this.admitted.has(peerId)) return // readmitted meanwhile
    for (const c of this.components.connectionManager.getConnections()) {
      if (c.remotePeer.toString() === peerId) await c.close().catch(() => c.abort(new Error('not a member')))
    }
  }

  private onConnection(conn: Connection): void {
    const peer = conn.remotePeer.toString()
    if (conn.direction === 'outbound') {
      void this.offer(conn)
      return
    }
    // the dialler speaks first; one that doesn't within the timeout is a stranger
    setTimeout(() => {
      if (conn.status !== 'open' || this.admitted.has(peer)) return
      this.counters.refusedHellos++
      this.refuse(peer)
      this.init.log.info('no handshake: disconnecting', { peer })
      conn.abort(new Error('no membership handshake'))
    }, HELLO_TIMEOUT_MS).unref()
  }

  /** Dialler side: offer our proof, check the listener's. */
  private async offer(conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    try {
      const stream = await conn.newStream(HELLO_PROTOCOL, {
        runOnLimitedConnection: true,
        signal: AbortSignal.timeout(HELLO_TIMEOUT_MS),
      })
      const lp = lpStream(stream, { maxDataLength: MAX_HELLO_BYTES })
      const signal = AbortSignal.timeout(HELLO_TIMEOUT_MS)
      await lp.write(encodeHelloOffer(this.proof), { signal })
      const raw = await lp.read({ signal })
      await stream.close().catch(() => {})
      const answer = decodeHelloAnswer(raw.subarray())
      if (!answer.ok) throw new Error(answer.reason)
      if (!answer.value.admitted) {
        this.lastRefusal = answer.value.reason
        this.init.log.warn('membership refused by peer', { peer, reason: answer.value.reason })
        this.refuse(peer)
        conn.abort(new Error(`refused: ${answer.value.reason}`))
        return
      }
      this.lastRefusal = null
      await this.judge(peer, answer.value.proof, conn)
    } catch (err) {
      this.init.log.debug('hello failed', { peer, error: (err as Error).message })
      if (!this.admitted.has(peer)) conn.abort(new Error('membership handshake failed'))
    }
  }

  /** Listener side: one bounded offer, then an answer. */
  private async onHello(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_HELLO_BYTES })
      const signal = AbortSignal.timeout(HELLO_TIMEOUT_MS)
      const offer = decodeHelloOffer((await lp.read({ signal })).subarray())
      const verdict = offer.ok
        ? await this.check(peer, offer.value)
        : ({ ok: false, reason: 'malformed hello' } as const)
      if (!verdict.ok) {
        this.counters.refusedHellos++
        this.refuse(peer)
        this.init.log.info('hello refused', { peer, reason: verdict.reason })
        await lp.write(encodeHelloAnswer({ admitted: false, reason: verdict.reason }), { signal })
        await stream.close().catch(() => {})
        setTimeout(() => conn.abort(new Error('not a member')), REVOKE_HANGUP_DELAY_MS).unref()
        return
      }
      // admitted before the answer leaves, so the dialler's next streams never wait
      this.admit(peer, verdict.value, verdict.claim, conn)
      await lp.write(encodeHelloAnswer({ admitted: true, proof: this.proof }), { signal })
      await stream.close().catch(() => {})
    } catch (err) {
      this.init.log.debug('hello stream failed', { peer, error: (err as Error).message })
      stream.abort(err as Error)
    }
  }

  private async check(
    peer: string,
    proof: HelloProof,
  ): Promise<{ ok: true; value: Membership; claim: string | null } | { ok: false; reason: string }> {
    const claim = proof.kind === 'claim' ? claimToString(proof.claim) : null
    if (proof.kind === 'owner' && !this.init.store.isOwnerNode(peer))
      return { ok: false, reason: 'not the owner' }
    const m = await this.init.store.membership(peer, claim)
    return m.ok ? { ok: true, value: m.value, claim } : m
  }

  /** The listener's proof, as the dialler sees it: admitted, pending (no policy yet) or refused. */
  private async judge(peer: string, proof: HelloProof, conn: Connection): Promise<void> {
    const claim = proof.kind === 'claim' ? claimToString(proof.claim) : null
    if (this.init.store.policy == null) {
      // a newcomer: it cannot check claims until sync brings the policy; the owner it knows by id
      if (proof.kind === 'owner' && peer === this.init.store.owner) {
        this.admitted.set(peer, { membership: ownerBeforePolicy(peer), claim: null })
      } else if (this.pending.size < MAX_REFUSED_PEERS) {
        this.pending.set(peer, claim)
      }
      this.emit('ready', peer, conn)
      return
    }
    const v = await this.check(peer, proof)
    if (v.ok) {
      this.admit(peer, v.value, v.claim, conn)
      return
    }
    this.init.log.warn('peer is not a member', { peer, reason: v.reason })
    this.refuse(peer)
    conn.abort(new Error(`not a member: ${v.reason}`))
  }
}

/** Placeholder membership for the owner (or a bootstrap peer) before the policy arrived. */
function ownerBeforePolicy(peerId: string): Membership {
  return { peerId, keyName: 'owner', acl: { rules: [] }, tags: [], binding: null, endsAt: null }
}
