/** The resolver's settings: `ResolverInit` and its check (a bad setting is InvalidResolverConfigError). */
import { isIPv4, isIPv6 } from 'node:net'
import { type Cidr, parseCidr } from '@meshlan/wire'
import {
  DEFAULT_DNS_PORT,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_MAX_TCP_CONNECTIONS,
  DEFAULT_NEGATIVE_TTL,
  DEFAULT_RATE_LIMIT_BURST,
  DEFAULT_RATE_LIMIT_QPS,
  DEFAULT_RATE_LIMIT_SOURCES,
  DEFAULT_TTL,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
} from './constants.ts'
import { InvalidResolverConfigError } from './errors.ts'
import type { RateLimitInit } from './rate-limit.ts'

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

/** `ResolverInit` checked, with its defaults filled in. */
export interface ResolverSettings {
  listen: string[]
  port: number
  udp: boolean
  tcp: boolean
  ttl: number
  negativeTtl: number
  timeoutMs: number
  maxInflight: number
  maxTcpConnections: number
  overlay: Cidr | null
  /** null: no rate limit. */
  rateLimit: RateLimitInit | null
}

function positiveInt(field: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v < min)
    throw new InvalidResolverConfigError(field, `${v} is not an integer ≥ ${min}`)
  return v
}

function rateLimitOf(r: { qps?: number; burst?: number; maxSources?: number } | undefined): RateLimitInit {
  return {
    qps: positiveInt('rateLimit.qps', r?.qps, DEFAULT_RATE_LIMIT_QPS),
    burst: positiveInt('rateLimit.burst', r?.burst, DEFAULT_RATE_LIMIT_BURST),
    maxSources: positiveInt('rateLimit.maxSources', r?.maxSources, DEFAULT_RATE_LIMIT_SOURCES),
  }
}

/** Checks `init`; throws InvalidResolverConfigError naming the setting. */
export function checkResolverInit(init: ResolverInit): ResolverSettings {
  if (!Array.isArray(init.listen) || init.listen.length === 0) {
    throw new InvalidResolverConfigError('listen', 'needs at least one address')
  }
  for (const a of init.listen) {
    if (!isIPv4(a) && !isIPv6(a)) throw new InvalidResolverConfigError('listen', `${a} is not an IP address`)
  }
  const port = positiveInt('port', init.port, DEFAULT_DNS_PORT, 0)
  if (port > 65535) throw new InvalidResolverConfigError('port', `${port} is out of range`)
  const udp = init.udp ?? true
  const tcp = init.tcp ?? true
  if (!udp && !tcp) throw new InvalidResolverConfigError('udp/tcp', 'at least one transport must be on')
  let overlay: Cidr | null = null
  if (init.overlayCidr != null) {
    const c = parseCidr(init.overlayCidr)
    if (!c.ok) throw new InvalidResolverConfigError('overlayCidr', c.reason)
    overlay = c
  }
  return {
    listen: init.listen,
    port,
    udp,
    tcp,
    ttl: positiveInt('ttl', init.ttl, DEFAULT_TTL, 0),
    negativeTtl: positiveInt('negativeTtl', init.negativeTtl, DEFAULT_NEGATIVE_TTL, 0),
    timeoutMs: positiveInt('upstreamTimeoutMs', init.upstreamTimeoutMs, DEFAULT_UPSTREAM_TIMEOUT_MS),
    maxInflight: positiveInt('maxInflight', init.maxInflight, DEFAULT_MAX_INFLIGHT),
    maxTcpConnections: positiveInt('maxTcpConnections', init.maxTcpConnections, DEFAULT_MAX_TCP_CONNECTIONS),
    overlay,
    rateLimit: init.rateLimit === false ? null : rateLimitOf(init.rateLimit),
  }
}
