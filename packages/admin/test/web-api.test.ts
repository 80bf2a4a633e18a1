/**
 * What the web admin (packages/web) adds to the admin API, with the fakes of helpers.ts: the built
 * files served with a strict CSP (and nothing outside them), the live feed (server-sent events),
 * password change, TOTP enrol / new recovery codes / disable from a session, the lockout list and
 * the audit chain check. The browser test is packages/web/test/web-admin.test.ts.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { totpCode } from '../src/totp.ts'
import { call, cookieOf, startAdmin } from './helpers.ts'

const PASSWORD = 'correct horse battery staple'
const NEW_PASSWORD = 'a new horse battery staple'

/** Reads a server-sent event stream until `want` events arrived (or 5 s). */
function readEvents(
  port: number,
  cookie: string,
  want: number,
): Promise<{ status: number; events: string[] }> {
  return new Promise((resolve, reject) => {
    const events: string[] = []
    const r = request(
      { host: '127.0.0.1', port, path: '/api/events', headers: { Cookie: cookie } },
      (res) => {
        let buf = ''
        const done = () => {
          r.destroy()
          resolve({ status: res.statusCode ?? 0, events })
        }
        const timer = setTimeout(done, 5000)
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          buf += c
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const block = buf.slice(0, i)
            buf = buf.slice(i + 2)
            if (block.startsWith('event: topology')) events.push(block.split('\ndata: ')[1])
            if (events.length >= want) {
              clearTimeout(timer)
              done()
            }
          }
        })
        res.on('end', () => {
          clearTimeout(timer)
          done()
        })
      },
    )
    r.on('error', (e) => (events.length >= want ? undefined : reject(e)))
    r.end()
  })
}

/** Opens a live feed and leaves it open: its status, and how to close it. */
function openStream(port: number, cookie: string): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const r = request(
      { host: '127.0.0.1', port, path: '/api/events', headers: { Cookie: cookie } },
      (res) => {
        res.resume()
        resolve({ status: res.statusCode ?? 0, close: () => r.destroy() })
      },
    )
    r.on('error', reject)
    r.end()
  })
}

describe('admin API for the web admin', () => {
  let t: Awaited<ReturnType<typeof startAdmin>>
  let web: string
  let peers = 0
  let cookie = ''
  let csrf = ''
  before(async () => {
    web = await mkdtemp(join(tmpdir(), 'meshlan-web-root-'))
    await mkdir(join(web, 'assets'))
    await writeFile(join(web, 'index.html'), '<!doctype html><title>x</title>')
    await writeFile(join(web, 'assets', 'app.js'), 'console.log(1)')
    t = await startAdmin({
      webRoot: web,
      status: async () => ({ node: { peers: Array.from({ length: peers }, (_, i) => ({ name: `n${i}` })) } }),
      verifyAudit: async () => ({ ok: true, lines: 7 }),
    })
    const { token } = await t.admin.bootstrapToken('uid:0')
    await call(t.port, 'POST', '/api/bootstrap', { body: { token, username: 'alice', password: PASSWORD } })
    const r = await call(t.port, 'POST', '/api/login', { body: { username: 'alice', password: PASSWORD } })
    cookie = cookieOf(r)
    csrf = String(r.body.csrf)
  })
  after(async () => {
    await t.admin.stop()
    await rm(t.dir, { recursive: true, force: true })
    await rm(web, { recursive: true, force: true })
  })

  const change = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    call(t.port, 'POST', path, { body, headers: { Cookie: cookie, 'X-CSRF-Token': csrf, ...headers } })
  const get = (path: string) => call(t.port, 'GET', path, { headers: { Cookie: cookie } })

  it('serves index.html and assets/ with a strict CSP; nothing else under the root', async () => {
    const page = await fetch(`http://127.0.0.1:${t.port}/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
    const csp = page.headers.get('content-security-policy') ?? ''
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"])
      assert.ok(csp.includes(d), `${d} in ${csp}`)
    assert.doesNotMatch(csp, /unsafe/)
    assert.equal(page.headers.get('x-frame-options'), 'DENY')
    const js = await fetch(`http://127.0.0.1:${t.port}/assets/app.js`)
    assert.equal(js.status, 200)
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/)
    // raw paths: fetch would normalise the dots away before sending
    for (const p of [
      '/admin.json',
      '/assets/../../admin.json',
      '/%2e%2e/admin.json',
      '/assets/app.js.map',
      '/x/y.js',
    ])
      assert.equal((await call(t.port, 'GET', p)).status, 404, p)
    assert.equal((await fetch(`http://127.0.0.1:${t.port}/`, { method: 'POST' })).status, 405)
    // the API's answers carry the same policy
    assert.ok(
      String((await get('/api/session')).headers['content-security-policy']).includes("default-src 'self'"),
    )
  })

  it('without a built web admin, / says how to build it', async () => {
    const bare = await startAdmin()
    try {
      const r = await fetch(`http://127.0.0.1:${bare.port}/`)
      assert.equal(r.status, 404)
      assert.match(await r.text(), /not built: run `pnpm --filter @meshlan\/web build`/)
    } finally {
      await bare.admin.stop()
      await rm(bare.dir, { recursive: true, force: true })
    }
  })

  it('/api/events: 401 without a session; with one, the status now and again when it changes', async () => {
    assert.equal((await call(t.port, 'GET', '/api/events')).status, 401)
    setTimeout(() => {
      peers = 1
    }, 300)
    const r = await readEvents(t.port, cookie, 2)
    assert.equal(r.status, 200)
    assert.equal(r.events.length, 2, 'a first snapshot, then one for the change')
    assert.equal(JSON.parse(r.events[0]).status.node.peers.length, 0)
    assert.equal(JSON.parse(r.events[1]).status.node.peers.length, 1)
    assert.deepEqual(JSON.parse(r.events[1]).routes, { ok: 'routeList' })
  })

  it('/api/events: at most 8 open at once (503), a closed one frees its place', async () => {
    const open = await Promise.all(Array.from({ length: 8 }, () => openStream(t.port, cookie)))
    assert.deepEqual(
      open.map((o) => o.status),
      Array(8).fill(200),
    )
    const ninth = await call(t.port, 'GET', '/api/events', { headers: { Cookie: cookie } })
    assert.equal(ninth.status, 503)
    open[0].close()
    await new Promise((r) => setTimeout(r, 200))
    const again = await openStream(t.port, cookie)
    assert.equal(again.status, 200)
    for (const o of [...open.slice(1), again]) o.close()
    await new Promise((r) => setTimeout(r, 200))
  })

  it('password change: a wrong current password is 401 and counted; the right one changes it', async () => {
    const wrong = await change('/api/password', { current: 'not it at all', password: NEW_PASSWORD })
    assert.equal(wrong.status, 401)
    assert.equal((wrong.body.error as { code: string }).code, 'ERR_PASSWORD_WRONG')
    assert.equal(t.lockouts.login.state.get('ip:127.0.0.1')?.fails, 1)
    assert.equal((await change('/api/password', { current: PASSWORD, password: 'short' })).status, 400)
    // a second session of the same admin ends with the change; this one stays
    const other = cookieOf(
      await call(t.port, 'POST', '/api/login', {
        body: { username: 'alice', password: PASSWORD },
        from: '127.0.0.5',
      }),
    )
    assert.equal((await change('/api/password', { current: PASSWORD, password: NEW_PASSWORD })).status, 200)
    assert.equal((await call(t.port, 'GET', '/api/session', { headers: { Cookie: other } })).status, 401)
    assert.equal((await get('/api/session')).status, 200)
    const old = await call(t.port, 'POST', '/api/login', {
      body: { username: 'alice', password: PASSWORD },
      from: '127.0.0.6',
    })
    assert.equal(old.status, 401)
    assert.ok(t.audit.some((e) => e.event === 'password.change' && e.ok === true))
  })

  it('lockouts: the addresses counted, per event', async () => {
    const r = await get('/api/lockouts')
    assert.equal(r.status, 200)
    const list = r.body.lockouts as Array<{ event: string; source: string; failures: number }>
    assert.ok(
      list.some((l) => l.event === 'login' && l.source === 'ip:127.0.0.6' && l.failures === 1),
      JSON.stringify(list),
    )
    assert.equal(r.body.recoveryCodesLeft, 0)
  })

  it('TOTP from the session: begin, confirm (the session stays), new recovery codes, disable', async () => {
    const begin = await change('/api/totp/begin', {})
    assert.equal(begin.status, 200)
    const secret = String(begin.body.secret)
    assert.match(String(begin.body.uri), /^otpauth:\/\/totp\//)
    assert.equal((begin.body.recoveryCodes as string[]).length, 10)
    assert.equal((await change('/api/totp/confirm', { code: '000000x' })).status, 401)
    assert.equal((await change('/api/totp/confirm', { code: totpCode(secret) })).status, 200)
    const s = await get('/api/session')
    assert.equal(s.body.totp, true)
    assert.ok(
      typeof s.body.totpProvedAt === 'number',
      'the confirming session counts as having proved a code',
    )
    const codes = await change('/api/totp/recovery-codes', {})
    assert.equal(codes.status, 200)
    const fresh = codes.body.recoveryCodes as string[]
    assert.equal(fresh.length, 10)
    assert.equal((await get('/api/lockouts')).body.recoveryCodesLeft, 10)
    // an old code no longer works; a new one disables TOTP
    const oldCode = (begin.body.recoveryCodes as string[])[0]
    assert.equal((await change('/api/totp/disable', { code: oldCode })).status, 401)
    assert.equal((await change('/api/totp/disable', { code: fresh[0] })).status, 200)
    assert.equal((await get('/api/session')).body.totp, false)
    for (const e of ['totp.enable', 'totp.recovery-codes', 'totp.disable'])
      assert.ok(
        t.audit.some((a) => a.event === e && a.ok === true),
        e,
      )
  })

  it('/api/audit/verify: the chain check of the log', async () => {
    const r = await get('/api/audit/verify')
    assert.deepEqual(r.body, { ok: true, lines: 7 })
  })
})
