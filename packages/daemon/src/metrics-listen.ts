/**
 * `[metrics] listen = "HOST:PORT"`: where the Prometheus endpoint listens, and whether it may.
 * Only the guarded listeners' shared HOST:PORT grammar (@meshlan/admin/listen): config.ts (and so
 * `meshlan config check`) validates with it without loading prom-client.
 *
 * HOST is an IPv4 address, `[IPv6]`, `localhost`, or `overlay` (this node's overlay address,
 * whenever it has one). Loopback and the overlay address are always allowed: the overlay is
 * reachable only by members, and the network's ACL decides which. Any other address (a LAN IP, the
 * wildcard `0.0.0.0` or `[::]`) serves an unauthenticated endpoint to whoever can route to it, and
 * needs `[metrics] expose = true` as well.
 */
import { isLoopbackHost, parseHostPort } from '@meshlan/admin/listen'

export interface MetricsListen {
  /** An IP literal (no brackets), or 'overlay'. `localhost` is 127.0.0.1. */
  host: string
  port: number
  kind: 'loopback' | 'overlay' | 'wildcard' | 'address'
}

/** Parses "HOST:PORT" (the admin API's grammar, one parser for both); a string says why not. */
export function parseMetricsListen(text: string): MetricsListen | string {
  const r = parseHostPort(text, '127.0.0.1:9464')
  return typeof r === 'string' ? r : { ...r, kind: kindOf(r.host) }
}

function kindOf(host: string): MetricsListen['kind'] {
  if (host === 'overlay') return 'overlay'
  if (host === '0.0.0.0' || host === '::') return 'wildcard'
  if (isLoopbackHost(host)) return 'loopback'
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
