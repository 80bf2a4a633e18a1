/**
 * `[metrics] listen = "HOST:PORT"`: where the Prometheus endpoint listens, and whether it may.
 * No dependencies: config.ts (and so `meshlan config check`) validates with it without loading
 * prom-client.
 *
 * HOST is an IPv4 address, `[IPv6]`, `localhost`, or `overlay` (this node's overlay address,
 * whenever it has one). Loopback and the overlay address are always allowed: the overlay is
 * reachable only by members, and the network's ACL decides which. Any other address (a LAN IP, the
 * wildcard `0.0.0.0` or `[::]`) serves an unauthenticated endpoint to whoever can route to it, and
 * needs `[metrics] expose = true` as well.
 */
import { isIPv4, isIPv6 } from 'node:net'

export interface MetricsListen {
  /** An IP literal (no brackets), or 'overlay'. `localhost` is 127.0.0.1. */
  host: string
  port: number
  kind: 'loopback' | 'overlay' | 'wildcard' | 'address'
}

/** Parses "HOST:PORT"; a string says why not. */
export function parseMetricsListen(text: string): MetricsListen | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  const why = 'must be "HOST:PORT" with an IP, [IPv6], localhost or overlay, e.g. "127.0.0.1:9464"'
  if (m == null) return why
  const port = Number(m[3])
  // 0 picks a free port (tests; the daemon logs the URL it serves)
  if (port > 65535) return 'the port must be 0-65535'
  const raw = m[1] ?? m[2]
  if (m[1] != null && !isIPv6(raw)) return why
  if (m[2] != null && raw !== 'localhost' && raw !== 'overlay' && !isIPv4(raw)) return why
  const host = raw === 'localhost' ? '127.0.0.1' : raw
  return { host, port, kind: kindOf(host) }
}

function kindOf(host: string): MetricsListen['kind'] {
  if (host === 'overlay') return 'overlay'
  if (host === '0.0.0.0' || host === '::') return 'wildcard'
  if (host.startsWith('127.') || host === '::1') return 'loopback'
  return 'address'
}

/**
 * Where to listen now: an address, null (not yet: the overlay address is not known), or a refusal.
 * `overlayIp` is this node's overlay address (null while it has none).
 */
export function metricsBind(
  l: MetricsListen,
  expose: boolean,
  overlayIp: string | null,
): { host: string; port: number } | null | { refused: string } {
  if (l.kind === 'loopback' || expose) {
    if (l.kind !== 'overlay') return { host: l.host, port: l.port }
  }
  if (l.kind === 'overlay' || (l.kind === 'address' && overlayIp == null)) {
    return overlayIp == null ? null : { host: l.kind === 'overlay' ? overlayIp : l.host, port: l.port }
  }
  if (l.kind === 'address' && l.host === overlayIp) return { host: l.host, port: l.port }
  return {
    refused:
      `${l.host} is neither loopback nor this node's overlay address` +
      (overlayIp == null ? '' : ` (${overlayIp})`) +
      ': set [metrics] expose = true to serve metrics there',
  }
}
