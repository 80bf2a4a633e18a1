/**
 * `[admin] listen = ["HOST:PORT", ...]`: where the admin API listens, and whether it may. No
 * dependencies (config.ts validates with it via `@meshlan/admin/listen`).
 *
 * HOST is an IPv4 address, `[IPv6]`, `localhost` or `overlay` (this node's overlay address, bound
 * once the node has one). Loopback and the overlay address are always allowed: the overlay only
 * reaches members, and the network's ACL decides which. Any other address (a LAN or public IP, the
 * wildcard) puts a login page in front of whoever routes there and needs `[admin] public = true`.
 */
import { isIPv4, isIPv6 } from 'node:net'

export interface AdminListen {
  /** An IP literal (no brackets), or 'overlay'. `localhost` is 127.0.0.1. */
  host: string
  port: number
  kind: 'loopback' | 'overlay' | 'other'
}

/**
 * Parses "HOST:PORT" (HOST: IPv4, [IPv6], localhost or overlay; port 0 picks a free port, for
 * tests): the one grammar of the daemon's guarded listeners, the admin API here and the metrics
 * endpoint (daemon/src/metrics-listen.ts). `example` goes into the error. A string says why not.
 */
export function parseHostPort(text: string, example: string): { host: string; port: number } | string {
  const why = `must be "HOST:PORT" with an IP, [IPv6], localhost or overlay, e.g. "${example}"`
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  if (m == null) return why
  const port = Number(m[3])
  if (port > 65535) return 'the port must be 0-65535'
  const raw = m[1] ?? m[2]
  if (m[1] != null && !isIPv6(raw)) return why
  if (m[2] != null && raw !== 'localhost' && raw !== 'overlay' && !isIPv4(raw)) return why
  return { host: raw === 'localhost' ? '127.0.0.1' : raw, port }
}

/** Whether a parsed host is loopback (`127.0.0.0/8`, `::1`). */
export function isLoopbackHost(host: string): boolean {
  return host.startsWith('127.') || host === '::1'
}

/** Parses an `[admin] listen` entry; a string says why not. */
export function parseAdminListen(text: string): AdminListen | string {
  const r = parseHostPort(text, '127.0.0.1:7947')
  if (typeof r === 'string') return r
  const kind = r.host === 'overlay' ? 'overlay' : isLoopbackHost(r.host) ? 'loopback' : 'other'
  return { ...r, kind }
}

/**
 * Where one entry binds now: an address, null (not yet: the overlay address is not known), or a
 * refusal. An explicit IP equal to the overlay address counts as the overlay.
 */
export function adminBind(
  l: AdminListen,
  allowPublic: boolean,
  overlayIp: string | null,
): { host: string; port: number } | null | { refused: string } {
  if (l.kind === 'overlay') return overlayIp == null ? null : { host: overlayIp, port: l.port }
  if (l.kind === 'loopback' || allowPublic || l.host === overlayIp) return { host: l.host, port: l.port }
  // an address that may become the overlay address once the node has one: wait for it
  if (overlayIp == null) return null
  return {
    refused:
      `${l.host} is neither loopback nor this node's overlay address (${overlayIp}): ` +
      'set [admin] public = true to serve the admin API there',
  }
}
export { DEFAULT_ADMIN_LISTEN } from './constants.ts'
