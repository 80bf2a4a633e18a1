/**
 * The MagicDNS resolver: answers `.mesh` and overlay PTR questions from a NameSource, forwards the
 * rest to upstream servers, on UDP and TCP, for each listen address.
 *
 * This file is the query path (rate limit, checks, the zone, counters); beside it listeners.ts
 * binds the sockets (dns2's public server factories, adapted in dns2-servers.ts), responses.ts builds
 * answers and forward.ts asks the upstreams. On UDP our own 'message' listener replaces dns2's so
 * that the rate limit runs before any parsing, malformed datagrams can be answered FORMERR and
 * forwarded queries go upstream byte-for-byte. Nothing from the network throws out of here: every
 * failure becomes an error response, a drop, and a counter.
 */
import type { RemoteInfo } from 'node:dgram'
import type { Socket as NetSocket } from 'node:net'
import type dns2 from 'dns2'
import { Packet } from 'dns2'
import { CLASSIC_UDP_PAYLOAD, DNS_HEADER_BYTES } from './constants.ts'
import { sendUdp } from './dns2-servers.ts'
import { createForwarder } from './forward.ts'
import { close, type Listener, listen } from './listeners.ts'
import { type DnsLogger, noisyLog, silentLogger } from './log.ts'
import { RateLimiter } from './rate-limit.ts'
import { bareResponse, createResponses, RCODE, TYPE_OPT } from './responses.ts'
import { checkResolverInit, type ResolverInit } from './settings.ts'
import { formatUpstream, parseUpstream, type Upstream } from './upstream.ts'
import { answerQuestion, type NameSource, TYPE_A, TYPE_PTR } from './zone.ts'

export type { ResolverInit } from './settings.ts'

export interface ResolverComponents {
  names: NameSource
  log?: DnsLogger
}

export interface ResolverAddress {
  address: string
  /** Bound UDP port, null when UDP is off. */
  udpPort: number | null
  /** Bound TCP port, null when TCP is off. */
  tcpPort: number | null
}

/** Monotonic counters since `createResolver`. */
export interface ResolverCounters {
  /** Every message received (UDP datagrams and TCP messages), before any check. */
  queries: number
  /** NOERROR answers from the mesh zones (with records, or NODATA). */
  answered: number
  /** NXDOMAIN answers from the mesh zones. */
  nxdomain: number
  /** Upstream answers relayed to the client. */
  forwarded: number
  /** SERVFAIL answers: every upstream failed, or too many forwards were in flight. */
  servfail: number
  /** REFUSED answers: no upstreams configured, or a `.mesh` question of a class other than IN. */
  refused: number
  /** NOTIMP answers (opcodes other than QUERY). */
  notimp: number
  /** Queries over the per-source rate limit (UDP: dropped; TCP: answered REFUSED). */
  ratelimited: number
  /** Unparseable messages, responses sent to us, and FORMERR answers. */
  malformed: number
  /** Forwards refused because `maxInflight` were already in flight (also counted in servfail). */
  overloaded: number
}

export interface Resolver {
  start(): Promise<void>
  stop(): Promise<void>
  readonly started: boolean
  /** Bound addresses and ports (empty before `start()`). */
  addresses(): ResolverAddress[]
  counters(): ResolverCounters
  /** The upstreams in use, normalised to `ip:port` / `[ipv6]:port`. */
  upstreams(): string[]
  /**
   * Replaces the upstream list (e.g. with `hostDns.upstreams` after `apply()`). Entries that do not
   * parse, or that point back at this resolver, are skipped and logged.
   */
  setUpstreams(list: string[]): void
  /**
   * Answers one raw DNS message as if it arrived from `source` over `transport` (no sockets; the
   * rate limit applies). Resolves with the response bytes, or null when the message is dropped.
   */
  query(raw: Buffer, transport: 'udp' | 'tcp', source: string): Promise<Buffer | null>
}

type Transport = 'udp' | 'tcp'

function plainSource(address: string | undefined): string {
  if (address == null) return 'unknown'
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

function errorCode(err: unknown): string {
  return (err as { code?: string })?.code ?? (err instanceof Error ? err.name : 'error')
}

export function createResolver(init: ResolverInit, components: ResolverComponents): Resolver {
  const names = components.names
  const log = components.log ?? silentLogger
  const cfg = checkResolverInit(init)
  const { ttl, port } = cfg
  const limiter = cfg.rateLimit == null ? null : new RateLimiter(cfg.rateLimit)

  const counters: ResolverCounters = {
    queries: 0,
    answered: 0,
    nxdomain: 0,
    forwarded: 0,
    servfail: 0,
    refused: 0,
    notimp: 0,
    ratelimited: 0,
    malformed: 0,
    overloaded: 0,
  }
  let upstreams: Upstream[] = []
  let listeners: Listener[] = []
  let started = false
  const noisy = noisyLog(log, () => ({ ...counters }))
  const ra = (): boolean => upstreams.length > 0
  const forwarder = createForwarder(cfg, { upstreams: () => upstreams, noisy })
  const { newResponse, soaRecord, encode } = createResponses(cfg, { recursionAvailable: ra, noisy })

  const loopsBack = (u: Upstream): boolean =>
    cfg.listen.includes(u.host) && (u.port === port || listeners.some((l) => l.udpPort === u.port))

  const setUpstreams = (list: string[]): void => {
    const next: Upstream[] = []
    for (const text of list) {
      const r = parseUpstream(text)
      if (!r.ok) {
        log.warn('upstream skipped', { upstream: text, reason: r.reason })
        continue
      }
      if (loopsBack(r.value)) {
        log.warn('upstream skipped', { upstream: text, reason: 'it is this resolver' })
        continue
      }
      next.push(r.value)
    }
    upstreams = next
    log.info('upstreams set', { upstreams: next.map(formatUpstream).join(',') || 'none' })
  }
  setUpstreams(init.upstreams ?? [])

  const formErr = (raw: Buffer | null, request: dns2.Packet | null): Buffer | null => {
    counters.malformed++
    if (request == null) return raw != null ? bareResponse(raw, RCODE.FORMERR, ra()) : null
    return encode(
      raw,
      () => {
        const r = newResponse(request, RCODE.FORMERR)
        r.questions = []
        return r
      },
      RCODE.FORMERR,
    )
  }

  const forward = async (
    request: dns2.Packet,
    raw: Buffer | null,
    transport: Transport,
  ): Promise<Buffer | null> => {
    if (forwarder.full()) {
      counters.overloaded++
      counters.servfail++
      noisy('forward overloaded', { inflight: forwarder.inflight })
      return encode(raw, () => newResponse(request, RCODE.SERVFAIL), RCODE.SERVFAIL)
    }
    let wire: Buffer
    try {
      wire = raw ?? request.toBuffer()
    } catch {
      return formErr(raw, request)
    }
    const answer = await forwarder.forward(wire, transport)
    if (answer != null) {
      counters.forwarded++
      return answer
    }
    counters.servfail++
    return encode(raw, () => newResponse(request, RCODE.SERVFAIL), RCODE.SERVFAIL)
  }

  /** The query path for a parsed message. Never throws. */
  const respond = async (
    request: dns2.Packet,
    raw: Buffer | null,
    transport: Transport,
  ): Promise<Buffer | null> => {
    const h = request.header
    if (h.qr) {
      counters.malformed++
      return null // never answer a response: no loops between servers
    }
    if (h.opcode !== 0) {
      counters.notimp++
      return encode(raw, () => newResponse(request, RCODE.NOTIMP), RCODE.NOTIMP)
    }
    const fatal = request.errors.some((e) => !e.recovered || e.section === 'questions')
    if (fatal || request.questions.length !== 1 || h.qdcount !== 1) return formErr(raw, request)
    const opts = request.additionals.filter((r) => r?.type === TYPE_OPT)
    if (opts.length > 1) return formErr(raw, request)
    if (opts.length === 1 && (opts[0].version ?? 0) !== 0) {
      counters.malformed++
      return encode(raw, () => Packet.createErrorResponseFromRequest(request, RCODE.BADVERS), RCODE.FORMERR)
    }
    const q = request.questions[0]
    if (typeof q.name !== 'string' || typeof q.type !== 'number' || typeof q.class !== 'number') {
      return formErr(raw, request)
    }
    const ans = answerQuestion(q.name, q.type, q.class, names, cfg.overlay)
    /** An authoritative answer from the mesh zones; `fill` adds its records. */
    const ours = (rcode: number, fallbackRcode: number, fill: (r: dns2.Packet) => void): Buffer | null =>
      encode(
        raw,
        () => {
          const r = newResponse(request, rcode)
          r.header.aa = 1
          fill(r)
          return r
        },
        fallbackRcode,
      )
    switch (ans.kind) {
      case 'answer':
        counters.answered++
        return ours(RCODE.NOERROR, RCODE.SERVFAIL, (r) =>
          r.answers.push(
            (ans.type === TYPE_A
              ? { name: q.name, type: TYPE_A, class: Packet.CLASS.IN, ttl, address: ans.data }
              : {
                  name: q.name,
                  type: TYPE_PTR,
                  class: Packet.CLASS.IN,
                  ttl,
                  domain: ans.data,
                }) as dns2.Packet.Resource,
          ),
        )
      case 'soa':
        counters.answered++
        return ours(RCODE.NOERROR, RCODE.SERVFAIL, (r) => r.answers.push({ ...soaRecord(), name: q.name }))
      case 'nodata':
      case 'nxdomain': {
        if (ans.kind === 'nodata') counters.answered++
        else counters.nxdomain++
        const rcode = ans.kind === 'nodata' ? RCODE.NOERROR : RCODE.NXDOMAIN
        return ours(rcode, rcode, (r) => {
          if (ans.zone === 'mesh') r.authorities.push(soaRecord())
        })
      }
      case 'refused':
        counters.refused++
        return encode(raw, () => newResponse(request, RCODE.REFUSED), RCODE.REFUSED)
      case 'outside':
        if (upstreams.length === 0) {
          counters.refused++
          return encode(raw, () => newResponse(request, RCODE.REFUSED), RCODE.REFUSED)
        }
        return forward(request, raw, transport)
    }
  }

  interface Handled {
    out: Buffer | null
    /** The client's UDP payload budget (its EDNS size, at least 512). */
    budget: number
  }

  /** Rate limit, cheap header checks, parse, respond. Never throws. */
  const handleRaw = async (raw: Buffer, transport: Transport, source: string): Promise<Handled> => {
    counters.queries++
    if (limiter != null && !limiter.take(source)) {
      counters.ratelimited++
      noisy('rate limited', { transport })
      return { out: null, budget: CLASSIC_UDP_PAYLOAD }
    }
    if (raw.length < DNS_HEADER_BYTES || (raw[2] & 0x80) !== 0) {
      counters.malformed++
      noisy('malformed query dropped', { transport, bytes: raw.length })
      return { out: null, budget: CLASSIC_UDP_PAYLOAD }
    }
    let request: dns2.Packet
    try {
      request = Packet.parse(raw)
    } catch {
      return { out: formErr(raw, null), budget: CLASSIC_UDP_PAYLOAD }
    }
    const opt = request.additionals.find((r) => r?.type === TYPE_OPT)
    const budget = Math.max(CLASSIC_UDP_PAYLOAD, Math.min(opt?.class ?? 0, 65535))
    try {
      return { out: await respond(request, raw, transport), budget }
    } catch (err) {
      // A bug or a NameSource surprise: answer SERVFAIL rather than crash.
      log.warn('query handler failed', { reason: errorCode(err) })
      counters.servfail++
      return { out: bareResponse(raw, RCODE.SERVFAIL, ra()), budget }
    }
  }

  // ---- sockets ----

  const onUdpMessage = (server: dns2.UDPServer, data: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.port === 0) return
    handleRaw(data, 'udp', plainSource(rinfo.address)).then(
      ({ out, budget }) => {
        if (out == null || !started) return
        sendUdp(server, rinfo, out, budget).catch(() => {})
      },
      () => {},
    )
  }

  const onTcpRequest: dns2.DnsHandler = (request, send, client) => {
    const sock = client as NetSocket
    counters.queries++
    const source = plainSource(sock.remoteAddress)
    const reply = (out: Buffer | null): void => {
      if (out == null) {
        sock.destroy()
        return
      }
      try {
        Promise.resolve(send(out)).catch(() => {})
      } catch {
        sock.destroy()
      }
    }
    if (limiter != null && !limiter.take(source)) {
      counters.ratelimited++
      noisy('rate limited', { transport: 'tcp' })
      reply(encode(null, () => newResponse(request, RCODE.REFUSED), RCODE.REFUSED))
      return
    }
    respond(request, null, 'tcp').then(reply, (err) => {
      log.warn('query handler failed', { reason: errorCode(err) })
      counters.servfail++
      reply(encode(null, () => newResponse(request, RCODE.SERVFAIL), RCODE.SERVFAIL))
    })
  }

  const onTcpRequestError = (err: Error): void => {
    // dns2's TCP path: a message that does not parse, or a connection cut mid-message.
    if ((err as { code?: string }).code == null) {
      counters.queries++
      counters.malformed++
    }
    noisy('tcp request error', { reason: errorCode(err) })
  }

  const listenOne = (address: string): Promise<Listener> =>
    listen(
      { address, port, udp: cfg.udp, tcp: cfg.tcp, maxTcpConnections: cfg.maxTcpConnections },
      { onUdpMessage, onTcpRequest, onTcpRequestError, log },
    )

  return {
    get started() {
      return started
    },
    async start() {
      if (started) return
      const bound: Listener[] = []
      try {
        for (const a of cfg.listen) bound.push(await listenOne(a))
      } catch (err) {
        await Promise.all(bound.map(close))
        throw err
      }
      listeners = bound
      started = true
      log.info('resolver listening', {
        addresses: bound.map((l) => `${l.address}:${l.udpPort ?? l.tcpPort}`).join(','),
        upstreams: upstreams.length,
      })
    },
    async stop() {
      if (!started) return
      started = false
      const ls = listeners
      listeners = []
      await Promise.all(ls.map(close))
      limiter?.clear()
      log.info('resolver stopped', { ...counters })
    },
    addresses() {
      return listeners.map((l) => ({ address: l.address, udpPort: l.udpPort, tcpPort: l.tcpPort }))
    },
    counters() {
      return { ...counters }
    },
    upstreams() {
      return upstreams.map(formatUpstream)
    },
    setUpstreams,
    async query(raw, transport, source) {
      return (await handleRaw(raw, transport, source)).out
    },
  }
}
