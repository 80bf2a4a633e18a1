/**
 * The admin API from the browser: same origin, the session cookie (HttpOnly: never seen here), the
 * CSRF token of the session on every change, and — when the API says a change needs a fresh TOTP
 * code — a prompt for it, then the same call again with X-TOTP.
 */
import { askTotp } from './totp-prompt.ts'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  /** From Retry-After on a 429 (lockout). */
  readonly retryAfterS: number | null

  constructor(status: number, code: string, message: string, retryAfterS: number | null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfterS = retryAfterS
  }
}

let csrf = ''
let onLoggedOut: () => void = () => {}

export function setCsrf(token: string): void {
  csrf = token
}

/** What to do when the session is gone (expired, or the daemon restarted). */
export function whenLoggedOut(fn: () => void): void {
  onLoggedOut = fn
}

async function call<T>(path: string, body: unknown, totp: string | null): Promise<T> {
  const headers: Record<string, string> = {}
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    headers['X-CSRF-Token'] = csrf
  }
  if (totp != null) headers['X-TOTP'] = totp
  const res = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  })
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } }
  if (!res.ok) {
    const e = data.error ?? { code: `HTTP_${res.status}`, message: res.statusText }
    const ra = res.headers.get('Retry-After')
    throw new ApiError(res.status, e.code, e.message, ra == null ? null : Number(ra))
  }
  return data as T
}

/** GET when `body` is undefined, else POST it as JSON. */
export async function api<T = unknown>(path: string, body?: unknown): Promise<T> {
  try {
    return await call<T>(path, body, null)
  } catch (err) {
    if (!(err instanceof ApiError)) throw err
    if (err.code === 'ERR_NOT_LOGGED_IN' && path !== '/api/session') onLoggedOut()
    if (err.code !== 'ERR_TOTP_REQUIRED') throw err
    const code = await askTotp()
    if (code == null) throw err
    return call<T>(path, body, code)
  }
}
