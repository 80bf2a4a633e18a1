/**
 * The MagicDNS resolver: answers `.mesh` and overlay PTR questions from a NameSource, forwards the
 * rest to upstream servers, on UDP and TCP, for each listen address.
 *
 * dns2 servers own the sockets and (for TCP) the message framing; dns2's `Packet` parses and builds
 * messages. On UDP our own 'message' listener replaces dns2's so that the rate limit runs before any
 * parsing, malformed datagrams can be answered FORMERR (dns2 would only emit `requestError` without
 * the sender) and forwarded queries go upstream byte-for-byte. Nothing from the network throws out
 * of here: every failure becomes an error response, a drop, and a counter.
 */
import type { RemoteInfo } from 'node:dgram'
import { isIPv4, isIPv6, type Socket as NetSocket } from 'node:net'
import dns2, { Packet } from 'dns2'
import {
  CLASSIC_UDP_PAYLOAD,
  DEFAULT_DNS_PORT,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_MAX_TCP_CONNECTIONS,
  DEFAULT_NEGATIVE_TTL,
  DEFAULT_RATE_LIMIT_BURST,
  DEFAULT_RATE_LIMIT_QPS,
  DEFAULT_RATE_LIMIT_SOURCES,
  DEFAULT_TTL,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  DNS_HEADER_BYTES,
  MESH_DOMAIN,
} from './constants.ts'
import { InvalidResolverConfigError, ResolverBindError } from './errors.ts'
import { type Ipv4Cidr, parseIpv4Cidr } from './ipv4.ts'
import { type DnsLogger, silentLogger } from './log.ts'
import { RateLimiter } from './rate-limit.ts'
import {
  formatUpstream,
  forwardTcp,
  forwardUdp,
  parseUpstream,
  type Result,
  type Upstream,
} from './upstream.ts'
import { answerQuestion, type NameSource, TYPE_A, TYPE_PTR, TYPE_SOA } from './zone.ts'

export interface ResolverInit {
  /** Addresses to listen on (the node's overlay IP; tests use 127.0.0.1). */
  listen: string[]
  /** UDP and TCP port; 0 picks a free port (the same one for UDP and TCP when possible). @default DEFAULT_DNS_PORT */
  port?: number
  /** Serve UDP. @default true */
  udp?: boolean
  /** Serve TCP. @default true */
  tcp?: boolean
  /** Where non-`.mesh` questions go, each `ip`, `ip:port` or `[ipv6]:port`. Empty: answer REFUSED. @default [] */
  upstreams?: string[]
  /**
   * The overlay CIDR (e.g. `10.144.0.0/16`): PTR questions for addresses in it are answered by meshlan
   * (NXDOMAIN when unknown) and never forwarded. Without it, only addresses the NameSource knows are
   * answered. @default null
   */
  overlayCidr?: string | null
  /** TTL of A and PTR answers, seconds. @default DEFAULT_TTL */
  ttl?: number
  /** TTL of the SOA sent with negative answers, seconds. @default DEFAULT_NEGATIVE_TTL */
  negativeTtl?: number
  /**
   * Per-source-IP token bucket; `false` disables it.
   * @default { qps: DEFAULT_RATE_LIMIT_QPS, burst: DEFAULT_RATE_LIMIT_BURST, maxSources: DEFAULT_RATE_LIMIT_SOURCES }
   */
  rateLimit?: { qps?: number; burst?: number; maxSources?: number } | false
  /** Per-upstream timeout before trying the next one, ms. @default DEFAULT_UPSTREAM_TIMEOUT_MS */
  upstreamTimeoutMs?: number
  /** Most forwarded queries in flight; more are answered SERVFAIL. @default DEFAULT_MAX_INFLIGHT */
  maxInflight?: number
  /** Most open TCP connections per listen address. @default DEFAULT_MAX_TCP_CONNECTIONS */
  maxTcpConnections?: number
}

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

const RCODE = Packet.RCODE
const TYPE_OPT = Packet.TYPE.EDNS
/** UDP payload size we advertise in our OPT record (the DNS flag day 2020 value). */
const OUR_UDP_PAYLOAD = 1232

interface Listener {
  address: string
  server: dns2.DnsServer
  udpPort: number | null
  tcpPort: number | null
  sockets: Set<NetSocket>
}

type Transport = 'udp' | 'tcp'

function positiveInt(field: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v < min)
    throw new InvalidResolverConfigError(field, `${v} is not an integer ≥ ${min}`)
  return v
}

/** A 12-byte response header with no sections, for when nothing better can be built. */
function bareResponse(query: Buffer, rcode: number, ra: boolean): Buffer {
  const out = Buffer.alloc(DNS_HEADER_BYTES)
  query.copy(out, 0, 0, 2)
  const opcode = (query[2] >> 3) & 0x0f
  const rd = query[2] & 0x01
  out[2] = 0x80 | (opcode << 3) | rd
  out[3] = (ra ? 0x80 : 0) | (rcode & 0x0f)
  return out
}

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
  if (!Array.isArray(init.listen) || init.listen.length === 0) {
    throw new InvalidResolverConfigError('listen', 'needs at least one address')
  }
  for (const a of init.listen) {
    if (!isIPv4(a) && !isIPv6(a)) throw new InvalidResolverConfigError('listen', `${a} is not an IP address`)
  }
  const port = positiveInt('port', init.port, DEFAULT_DNS_PORT, 0)
  if (port > 65535) throw new InvalidResolverConfigError('port', `${port} is out of range`)
  const useUdp = init.udp ?? true
  const useTcp = init.tcp ?? true
  if (!useUdp && !useTcp) throw new InvalidResolverConfigError('udp/tcp', 'at least one transport must be on')
  const ttl = positiveInt('ttl', init.ttl, DEFAULT_TTL, 0)
  const negativeTtl = positiveInt('negativeTtl', init.negativeTtl, DEFAULT_NEGATIVE_TTL, 0)
  const timeoutMs = positiveInt('upstreamTimeoutMs', init.upstreamTimeoutMs, DEFAULT_UPSTREAM_TIMEOUT_MS)
  const maxInflight = positiveInt('maxInflight', init.maxInflight, DEFAULT_MAX_INFLIGHT)
  const maxTcp = positiveInt('maxTcpConnections', init.maxTcpConnections, DEFAULT_MAX_TCP_CONNECTIONS)
  let overlay: Ipv4Cidr | null = null
  if (init.overlayCidr != null) {
    overlay = parseIpv4Cidr(init.overlayCidr)
    if (overlay == null)
      throw new InvalidResolverConfigError('overlayCidr', `${init.overlayCidr} is not an IPv4 CIDR`)
  }
  const limiter =
    init.rateLimit === false
      ? null
      : new RateLimiter({
          qps: positiveInt('rateLimit.qps', init.rateLimit?.qps, DEFAULT_RATE_LIMIT_QPS),
          burst: positiveInt('rateLimit.burst', init.rateLimit?.burst, DEFAULT_RATE_LIMIT_BURST),
          maxSources: positiveInt(
            'rateLimit.maxSources',
            init.rateLimit?.maxSources,
            DEFAULT_RATE_LIMIT_SOURCES,
          ),
        })

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
  let inflight = 0

  // One debug line per second at most for events a flood can trigger.
  const lastNoisy = new Map<string, number>()
  const noisy = (what: string, fields: Record<string, string | number>): void => {
    const now = Date.now()
    if (now - (lastNoisy.get(what) ?? 0) < 1000) return
    lastNoisy.set(what, now)
    log.debug(what, { ...fields, ...counters })
  }

  const loopsBack = (u: Upstream): boolean =>
    init.listen.includes(u.host) && (u.port === port || listeners.some((l) => l.udpPort === u.port))

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

  // ---- building responses ----

  const soaRecord = () => ({
    name: MESH_DOMAIN,
    type: TYPE_SOA,
    class: Packet.CLASS.IN,
    ttl: negativeTtl,
    primary: MESH_DOMAIN,
    admin: `hostmaster.${MESH_DOMAIN}`,
    serial: 1,
    refresh: 3600,
    retry: 600,
    expiration: 86400,
    minimum: negativeTtl,
  })

  const newResponse = (request: dns2.Packet, rcode: number): dns2.Packet => {
    const response = Packet.createResponseFromRequest(request)
    response.header.rcode = rcode
    response.header.ra = upstreams.length > 0 ? 1 : 0
    response.questions = request.questions.slice(0, 1)
    if (request.additionals.some((r) => r?.type === TYPE_OPT)) {
      response.additionals.push(
        Packet.Resource.EDNS([], { udpPayloadSize: OUR_UDP_PAYLOAD }) as unknown as dns2.Packet.Resource,
      )
    }
    return response
  }

  /** Serialises `build()`; if dns2 cannot encode it, falls back to a bare header with `fallbackRcode`. */
  const encode = (raw: Buffer | null, build: () => dns2.Packet, fallbackRcode: number): Buffer | null => {
    try {
      return build().toBuffer()
    } catch (err) {
      noisy('response not encodable', { reason: errorCode(err) })
      return raw != null && raw.length >= DNS_HEADER_BYTES
        ? bareResponse(raw, fallbackRcode, upstreams.length > 0)
        : null
    }
  }

  const formErr = (raw: Buffer | null, request: dns2.Packet | null): Buffer | null => {
    counters.malformed++
    if (request == null) return raw != null ? bareResponse(raw, RCODE.FORMERR, upstreams.length > 0) : null
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
    if (inflight >= maxInflight) {
      counters.overloaded++
      counters.servfail++
      noisy('forward overloaded', { inflight })
      return encode(raw, () => newResponse(request, RCODE.SERVFAIL), RCODE.SERVFAIL)
    }
    let wire: Buffer
    try {
      wire = raw ?? request.toBuffer()
    } catch {
      return formErr(raw, request)
    }
    inflight++
    try {
      let fallback: Buffer | null = null
      for (const up of upstreams.slice()) {
        let r: Result<Buffer> =
          transport === 'tcp' ? await forwardTcp(up, wire, timeoutMs) : await forwardUdp(up, wire, timeoutMs)
        if (!r.ok && transport === 'tcp') r = await forwardUdp(up, wire, timeoutMs)
        if (!r.ok) {
          noisy('upstream failed', { upstream: formatUpstream(up), reason: r.reason })
          continue
        }
        const rcode = r.value[3] & 0x0f
        // Like a stub resolver: SERVFAIL/REFUSED/NOTIMP from one upstream means try the next.
        if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED || rcode === RCODE.NOTIMP) {
          fallback = r.value
          continue
        }
        counters.forwarded++
        return r.value
      }
      if (fallback != null) {
        counters.forwarded++
        return fallback
      }
      counters.servfail++
      return encode(raw, () => newResponse(request, RCODE.SERVFAIL), RCODE.SERVFAIL)
    } finally {
      inflight--
    }
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
    const ans = answerQuestion(q.name, q.type, q.class, names, overlay)
    switch (ans.kind) {
      case 'answer':
        counters.answered++
        return encode(
          raw,
          () => {
            const r = newResponse(request, RCODE.NOERROR)
            r.header.aa = 1
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
            )
            return r
          },
          RCODE.SERVFAIL,
        )
      case 'soa':
        counters.answered++
        return encode(
          raw,
          () => {
            const r = newResponse(request, RCODE.NOERROR)
            r.header.aa = 1
            r.answers.push({ ...soaRecord(), name: q.name } as dns2.Packet.Resource)
            return r
          },
          RCODE.SERVFAIL,
        )
      case 'nodata':
      case 'nxdomain': {
        if (ans.kind === 'nodata') counters.answered++
        else counters.nxdomain++
        const rcode = ans.kind === 'nodata' ? RCODE.NOERROR : RCODE.NXDOMAIN
        return encode(
          raw,
          () => {
            const r = newResponse(request, rcode)
            r.header.aa = 1
            if (ans.zone === 'mesh') r.authorities.push(soaRecord() as dns2.Packet.Resource)
            return r
          },
          rcode,
        )
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
      return { out: bareResponse(raw, RCODE.SERVFAIL, upstreams.length > 0), budget }
    }
  }

  // ---- sockets ----

  const onUdpMessage = (server: dns2.UDPServer, data: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.port === 0) return
    handleRaw(data, 'udp', plainSource(rinfo.address)).then(
      ({ out, budget }) => {
        if (out == null || !started) return
        // dns2's response() fits the reply into the client's UDP budget (TC=1 if it cannot).
        server.response({ rinfo, maxPayload: budget } as unknown as RemoteInfo, out).catch(() => {})
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

  const listenOne = async (address: string): Promise<Listener> => {
    const family = isIPv6(address) ? 'udp6' : 'udp4'
    const attempts = port === 0 ? 8 : 1
    let lastErr: unknown = null
    for (let attempt = 0; attempt < attempts; attempt++) {
      const server = dns2.createServer({
        udp: useUdp ? { type: family } : false,
        tcp: useTcp,
        handle: onTcpRequest,
      })
      const listener: Listener = { address, server, udpPort: null, tcpPort: null, sockets: new Set() }
      server.on('error', (err: Error, transport: string) => {
        log.warn('dns socket error', { transport, address, reason: errorCode(err) })
      })
      server.on('requestError', (err: Error) => {
        // dns2's TCP path: a message that does not parse, or a connection cut mid-message.
        if ((err as { code?: string }).code == null) {
          counters.queries++
          counters.malformed++
        }
        noisy('tcp request error', { reason: errorCode(err) })
      })
      const { udp, tcp } = serversOf(server)
      if (udp) {
        udp.removeAllListeners('message')
        udp.on('message', (data: Buffer, rinfo: RemoteInfo) => onUdpMessage(udp, data, rinfo))
      }
      if (tcp) {
        tcp.maxConnections = maxTcp
        tcp.on('connection', (s: NetSocket) => {
          listener.sockets.add(s)
          s.on('close', () => listener.sockets.delete(s))
        })
      }
      try {
        let p = port
        if (udp) {
          p = await bindUdp(udp, p, address)
          listener.udpPort = p
        }
        if (tcp) listener.tcpPort = await listenTcp(tcp, p, address)
        return listener
      } catch (err) {
        lastErr = err
        await closeListener(listener)
        if (!(err instanceof ResolverBindError) || errorCode(err.cause) !== 'EADDRINUSE') break
      }
    }
    throw lastErr
  }

  return {
    get started() {
      return started
    },
    async start() {
      if (started) return
      const bound: Listener[] = []
      try {
        for (const a of init.listen) bound.push(await listenOne(a))
      } catch (err) {
        await Promise.all(bound.map(closeListener))
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
      await Promise.all(ls.map(closeListener))
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

/** dns2's DnsServer keeps its transports in `servers` (not in its type declarations). */
function serversOf(server: dns2.DnsServer): { udp?: dns2.UDPServer; tcp?: dns2.TCPServer } {
  return (server as unknown as { servers: { udp?: dns2.UDPServer; tcp?: dns2.TCPServer } }).servers
}

function bindUdp(udp: dns2.UDPServer, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      udp.off('listening', onListening)
      reject(new ResolverBindError(address, port, 'udp', err))
    }
    const onListening = (): void => {
      udp.off('error', onError)
      resolve(udp.address().port)
    }
    udp.once('error', onError)
    udp.once('listening', onListening)
    try {
      udp.bind(port, address)
    } catch (err) {
      udp.off('error', onError)
      udp.off('listening', onListening)
      reject(new ResolverBindError(address, port, 'udp', err))
    }
  })
}

function listenTcp(tcp: dns2.TCPServer, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      tcp.off('listening', onListening)
      reject(new ResolverBindError(address, port, 'tcp', err))
    }
    const onListening = (): void => {
      tcp.off('error', onError)
      const a = tcp.address()
      resolve(typeof a === 'object' && a != null ? a.port : port)
    }
    tcp.once('error', onError)
    tcp.once('listening', onListening)
    tcp.listen({ port, host: address, exclusive: true })
  })
}

async function closeListener(l: Listener): Promise<void> {
  const { udp, tcp } = serversOf(l.server)
  const waits: Promise<void>[] = []
  if (udp) {
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
  if (tcp) {
    for (const s of l.sockets) s.destroy()
    waits.push(new Promise((resolve) => tcp.close(() => resolve())))
  }
  await Promise.all(waits)
}
