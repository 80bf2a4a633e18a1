/** Test helpers: an AdminService on loopback with fakes for the daemon's parts, and an HTTP client. */

import { mkdtemp, rename, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AdminService } from '../src/admin.ts'
import type { FailResult, Lockout } from '../src/types.ts'

/** part A's rule in memory: 5 failures → locked out 5 min, doubling after. */
export class MemoryLockout implements Lockout {
  readonly state = new Map<string, { fails: number; lockouts: number; until: number }>()
  async check(key: string): Promise<number> {
    return Math.max(0, (this.state.get(key)?.until ?? 0) - Date.now())
  }
  async fail(key: string): Promise<FailResult> {
    const s = this.state.get(key) ?? { fails: 0, lockouts: 0, until: 0 }
    this.state.set(key, s)
    s.fails++
    const lockedOut = s.fails >= 5 || s.lockouts > 0
    if (lockedOut) {
      s.until = Date.now() + 300_000 * 2 ** s.lockouts
      s.lockouts++
      s.fails = 0
    }
    return { lockedOut, retryAfterMs: Math.max(0, s.until - Date.now()) }
  }
  async succeed(key: string): Promise<void> {
    this.state.delete(key)
  }
  async list() {
    return [...this.state].map(([source, s]) => ({
      source,
      retryAfterMs: Math.max(0, s.until - Date.now()),
      failures: s.fails,
    }))
  }
}

export interface Calls {
  name: string
  params: unknown
  ctx: unknown
}

export async function startAdmin(
  opts: {
    scrypt?: { N: number; r: number; p: number }
    now?: () => number
    status?: () => Promise<unknown>
    webRoot?: string | null
    verifyAudit?: () => Promise<unknown>
  } = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'meshlan-admin-'))
  const calls: Calls[] = []
  const lines: string[] = []
  const audit: Array<Record<string, unknown>> = []
  const record =
    (name: string) =>
    async (params: unknown, ctx?: unknown): Promise<unknown> => {
      calls.push({ name, params, ctx })
      return { ok: name }
    }
  const lockouts = { login: new MemoryLockout(), bootstrap: new MemoryLockout(), unlock: new MemoryLockout() }
  let locked = true
  const admin = new AdminService({
    stateDir: dir,
    writeFile: async (path, data, mode) => {
      await writeFile(`${path}.tmp`, data, { mode })
      await rename(`${path}.tmp`, path)
    },
    lockouts,
    authLog: (event, source, r) => {
      lines.push(`meshlan auth failure: event=${event} source=${source}`)
      if (r.lockedOut) lines.push(`meshlan auth lockout: event=${event} source=${source}`)
    },
    controller: {
      keyList: record('keyList'),
      keyCreate: record('keyCreate'),
      keyRevoke: record('keyRevoke'),
      aclShow: record('aclShow'),
      aclSet: record('aclSet'),
      routeList: record('routeList'),
      routeApprove: record('routeApprove'),
      routeRevoke: record('routeRevoke'),
      nodeRevoke: record('nodeRevoke'),
    },
    status: opts.status ?? (async () => ({ node: null })),
    webRoot: opts.webRoot ?? null,
    verifyAudit: opts.verifyAudit ?? null,
    ownerLock: {
      protected: true,
      get locked() {
        return locked
      },
      unlock: async (p) => {
        if (p !== 'right horse battery')
          throw Object.assign(new Error('wrong passphrase'), { code: 'ERR_WRONG_PASSPHRASE' })
        locked = false
      },
      lock: () => {
        locked = true
      },
    },
    audit: { append: async (e) => void audit.push({ ...e }) },
    log: { info: () => {}, warn: () => {}, error: () => {} },
    scrypt: opts.scrypt ?? { N: 2 ** 10, r: 8, p: 1 },
    now: opts.now,
  })
  await admin.apply({ listen: ['127.0.0.1:0'], public: false }, null)
  const port = admin.addresses()[0].port
  return { admin, dir, port, calls, lines, audit, lockouts }
}

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Record<string, unknown>
}

/** One request; `from` picks the source address (any 127/8 address works on Linux loopback). */
export function call(
  port: number,
  method: string,
  path: string,
  o: { body?: unknown; raw?: string; headers?: Record<string, string>; from?: string } = {},
): Promise<Reply> {
  const text = o.raw ?? (o.body === undefined ? '' : JSON.stringify(o.body))
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        localAddress: o.from ?? '127.0.0.1',
        headers: {
          ...(text === ''
            ? {}
            : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }),
          ...o.headers,
        },
      },
      (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          data += c
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: data === '' ? {} : JSON.parse(data),
          }),
        )
      },
    )
    r.on('error', reject)
    r.end(text)
  })
}

/** The session cookie's `name=value` from a login reply. */
export function cookieOf(r: Reply): string {
  const set = r.headers['set-cookie']
  const c = Array.isArray(set) ? set[0] : String(set)
  return c.split(';')[0]
}
