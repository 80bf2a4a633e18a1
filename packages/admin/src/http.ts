/** Small node:http helpers: bounded JSON bodies, cookies, JSON answers, the client's address. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIPv4 } from 'node:net'
import { MAX_BODY_BYTES } from './constants.ts'
import { AdminError, BadRequestError, BodyTooLargeError } from './errors.ts'
import { SECURITY_HEADERS } from './web.ts'

/**
 * The JSON object in the body. A Content-Length over the limit is refused before reading; a
 * chunked body is cut off as soon as it passes it. Anything but `application/json` is refused:
 * a cross-site form cannot send that type without a CORS preflight, which this server never grants.
 */
export async function readJson(
  req: IncomingMessage,
  limit = MAX_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw new BodyTooLargeError(limit)
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new BodyTooLargeError(limit)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return {}
  if (type !== 'application/json') throw new BadRequestError('send Content-Type: application/json')
  let value: unknown
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new BadRequestError('the body is not valid JSON')
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value))
    throw new BadRequestError('the body must be a JSON object')
  return value as Record<string, unknown>
}

/** One cookie's value from the Cookie header, or null. */
export function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

export function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name]
  return typeof v === 'string' ? v : null
}

/**
 * The peer's address as the TCP connection has it (no X-Forwarded-For: the API is served
 * directly, and a header would let anyone pick the address the lockout counts). IPv4-mapped
 * IPv6 is shown as IPv4, so fail2ban bans the address iptables sees.
 */
export function clientIp(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? 'unknown'
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a
  return isIPv4(v4) ? v4 : a
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  })
  res.end(text)
}

/** An error as the API answers it: `{"error": {"code", "message"}}` with its status. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof AdminError) {
    const headers: Record<string, string> = {}
    if ('retryAfterMs' in err && typeof err.retryAfterMs === 'number')
      headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)))
    if ('allow' in err && typeof err.allow === 'string') headers.Allow = err.allow
    // a 413 leaves the rest of the body unread: close instead of reading it for keep-alive
    if (err.status === 413) headers.Connection = 'close'
    sendJson(res, err.status, { error: { code: err.code, message: err.message } }, headers)
    return
  }
  const e = err as { code?: unknown; message?: unknown }
  // controller errors (named, with a code) are the caller's mistake or the node's state
  const code = typeof e?.code === 'string' ? e.code : 'ERR_INTERNAL'
  sendJson(res, statusOfCode(code), {
    error: { code, message: typeof e?.message === 'string' ? e.message : 'internal error' },
  })
}

/** HTTP status of a daemon / mesh error code. */
function statusOfCode(code: string): number {
  if (code === 'ERR_INTERNAL') return 500
  if (/LOCKED/.test(code)) return 423
  if (/UNKNOWN|NOT_FOUND/.test(code)) return 404
  if (/NOT_OWNER/.test(code)) return 403
  if (/NODE_NOT_RUNNING|NO_NETWORK/.test(code)) return 409
  return 400
}
