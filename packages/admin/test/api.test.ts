/**
 * The admin API over HTTP on loopback, with fakes for the daemon's parts (the real Lockout and a
 * real daemon: packages/daemon/test/admin-daemon.test.ts). Addresses: the client binds 127.0.0.x,
 * so "another IP" is real to the server.
 */
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { SCRYPT_DEFAULT } from '../src/passwords.ts'
import { totpCode } from '../src/totp.ts'
import { call, cookieOf, startAdmin } from './helpers.ts'

const PASSWORD = 'correct horse battery staple'

describe('admin API', () => {
  let clock = Date.now()
  let t: Awaited<ReturnType<typeof startAdmin>>
  before(async () => {
    t = await startAdmin({ now: () => clock })
  })
  after(async () => {
    await t.admin.stop()
    await rm(t.dir, { recursive: true, force: true })
  })

  const login = (body: Record<string, unknown>, from?: string) =>
    call(t.port, 'POST', '/api/login', { body, from })

  it('bootstrap: a wrong token is 401, the right one creates the admin, afterwards 409', async () => {
    const { token } = await t.admin.bootstrapToken('uid:0')
    const file = await readFile(join(t.dir, 'admin.json'), 'utf8')
    assert.ok(!file.includes(token), 'the token is stored hashed')
    const bad = await call(t.port, 'POST', '/api/bootstrap', {
      body: { token: 'nope', username: 'alice', password: PASSWORD },
      from: '127.0.0.9',
    })
    assert.equal(bad.status, 401)
    const ok = await call(t.port, 'POST', '/api/bootstrap', {
      body: { token, username: 'alice', password: PASSWORD },
    })
    assert.equal(ok.status, 201, JSON.stringify(ok.body))
    const again = await call(t.port, 'POST', '/api/bootstrap', {
      body: { token, username: 'bob', password: PASSWORD },
    })
    assert.equal(again.status, 409)
    await assert.rejects(t.admin.bootstrapToken('uid:0'), /exists already/)
    const stored = await readFile(join(t.dir, 'admin.json'), 'utf8')
    assert.ok(!stored.includes(PASSWORD) && stored.includes('scrypt$'), 'password stored as an scrypt hash')
  })

  it('login: 200 with a HttpOnly SameSite=Strict cookie; unknown user and wrong password get one answer', async () => {
    const ok = await login({ username: 'alice', password: PASSWORD })
    assert.equal(ok.status, 200)
    const set = String(ok.headers['set-cookie'])
    for (const a of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age='])
      assert.ok(set.includes(a), `${a} in ${set}`)
    assert.ok(!set.includes('Secure'), 'not Secure over plain HTTP')
    const wrong = await login({ username: 'alice', password: 'wrong password!' }, '127.0.0.2')
    const unknown = await login({ username: 'mallory', password: PASSWORD }, '127.0.0.2')
    assert.equal(wrong.status, 401)
    assert.equal(unknown.status, 401)
    assert.deepEqual(wrong.body, unknown.body)
  })

  it('the 6th attempt from one IP is 429 with Retry-After even with the right password; another IP logs in', async () => {
    for (let i = 0; i < 5; i++)
      assert.equal((await login({ username: 'alice', password: 'x' }, '127.0.0.3')).status, 401)
    const sixth = await login({ username: 'alice', password: PASSWORD }, '127.0.0.3')
    assert.equal(sixth.status, 429)
    assert.ok(Number(sixth.headers['retry-after']) > 0)
    assert.equal((await login({ username: 'alice', password: PASSWORD }, '127.0.0.4')).status, 200)
    assert.ok(t.lines.includes('meshlan auth lockout: event=login source=ip:127.0.0.3'), t.lines.join('\n'))
  })

  it('state-changing calls: no CSRF header → 403, with it → the controller runs as the admin', async () => {
    const r = await login({ username: 'alice', password: PASSWORD }, '127.0.0.5')
    const cookie = cookieOf(r)
    const csrf = String(r.body.csrf)
    const none = await call(t.port, 'POST', '/api/keys/revoke', {
      body: { name: 'k' },
      headers: { Cookie: cookie },
    })
    assert.equal(none.status, 403)
    const wrong = await call(t.port, 'POST', '/api/keys/revoke', {
      body: { name: 'k' },
      headers: { Cookie: cookie, 'X-CSRF-Token': 'x'.repeat(csrf.length) },
    })
    assert.equal(wrong.status, 403)
    assert.equal(t.calls.length, 0)
    const ok = await call(t.port, 'POST', '/api/keys/revoke', {
      body: { name: 'k' },
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf },
      from: '127.0.0.5',
    })
    assert.equal(ok.status, 200)
    assert.deepEqual(t.calls.at(-1), {
      name: 'keyRevoke',
      params: { name: 'k' },
      ctx: { actor: 'alice', source: 'ip:127.0.0.5' },
    })
    const noSession = await call(t.port, 'GET', '/api/keys')
    assert.equal(noSession.status, 401)
    const session = await call(t.port, 'GET', '/api/session', { headers: { Cookie: cookie } })
    assert.equal(session.body.username, 'alice')
    assert.equal(session.body.csrf, csrf)
  })

  it('a body over 16 KiB is 413', async () => {
    const big = await call(t.port, 'POST', '/api/login', {
      raw: JSON.stringify({ username: 'alice', password: 'x'.repeat(17 * 1024) }),
      from: '127.0.0.6',
    })
    assert.equal(big.status, 413)
  })

  it('unlock: a logged-in admin with CSRF; a wrong passphrase counts against the IP', async () => {
    const r = await login({ username: 'alice', password: PASSWORD }, '127.0.0.7')
    const headers = { Cookie: cookieOf(r), 'X-CSRF-Token': String(r.body.csrf) }
    const bad = await call(t.port, 'POST', '/api/unlock', {
      body: { passphrase: 'nope' },
      headers,
      from: '127.0.0.7',
    })
    assert.equal(bad.status, 401)
    assert.ok(t.lines.includes('meshlan auth failure: event=unlock source=ip:127.0.0.7'))
    const ok = await call(t.port, 'POST', '/api/unlock', {
      body: { passphrase: 'right horse battery' },
      headers,
      from: '127.0.0.7',
    })
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.body, { locked: false })
    assert.ok(!JSON.stringify(t.audit).includes('right horse battery'), 'no passphrase in the audit')
  })

  it('TOTP: required at login once on, a state change needs a fresh code, a recovery code works once', async () => {
    const e = await t.admin.totpBegin({})
    assert.equal(e.recoveryCodes.length, 10)
    assert.match(e.uri, /^otpauth:\/\/totp\//)
    await t.admin.totpConfirm({ code: totpCode(e.secret, clock) }, 'uid:0')
    const stored = await readFile(join(t.dir, 'admin.json'), 'utf8')
    for (const c of e.recoveryCodes) assert.ok(!stored.includes(c), 'recovery codes stored hashed')

    const from = '127.0.0.8'
    assert.equal(
      (await login({ username: 'alice', password: PASSWORD }, from)).status,
      401,
      'no code: refused',
    )
    const r = await login(
      { username: 'alice', password: PASSWORD, totp: totpCode(e.secret, clock + 30_000) },
      from,
    )
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const headers = { Cookie: cookieOf(r), 'X-CSRF-Token': String(r.body.csrf) }
    const act = () => call(t.port, 'POST', '/api/acls', { body: { key: 'k', aclText: '{}' }, headers, from })
    assert.equal((await act()).status, 200, 'fresh after login')
    clock += 10 * 60_000
    const stale = await act()
    assert.equal(stale.status, 401)
    assert.equal((stale.body.error as { code: string }).code, 'ERR_TOTP_REQUIRED')
    const withCode = await call(t.port, 'POST', '/api/acls', {
      body: { key: 'k', aclText: '{}' },
      headers: { ...headers, 'X-TOTP': totpCode(e.secret, clock) },
      from,
    })
    assert.equal(withCode.status, 200)

    const code = e.recoveryCodes[0]
    const first = await login(
      { username: 'alice', password: PASSWORD, totp: code.toUpperCase() },
      '127.0.0.10',
    )
    assert.equal(first.status, 200, 'a recovery code logs in (case and dashes do not matter)')
    const second = await login({ username: 'alice', password: PASSWORD, totp: code }, '127.0.0.10')
    assert.equal(second.status, 401, 'the same recovery code does not work twice')
    assert.ok(t.audit.some((a) => a.event === 'totp.recovery'))

    await assert.rejects(t.admin.totpDisable({ code: '000000' }, 'uid:0'), /wrong TOTP/)
    await t.admin.totpDisable({ code: e.recoveryCodes[1] }, 'uid:0')
    assert.equal(
      (await login({ username: 'alice', password: PASSWORD }, '127.0.0.11')).status,
      200,
      'off again',
    )
  })

  it('nothing secret in the audit or the log lines', () => {
    const all = JSON.stringify(t.audit) + t.lines.join('\n')
    assert.ok(!all.includes(PASSWORD))
    assert.ok(!/"(password|token|totp|passphrase)"/.test(all))
  })
})

describe('login timing: unknown user and wrong password cost the same (real scrypt cost)', () => {
  it('medians within a factor of 2', async () => {
    const t = await startAdmin({ scrypt: SCRYPT_DEFAULT })
    try {
      const { token } = await t.admin.bootstrapToken('uid:0')
      await call(t.port, 'POST', '/api/bootstrap', { body: { token, username: 'alice', password: PASSWORD } })
      const time = async (username: string, i: number) => {
        const t0 = performance.now()
        const r = await call(t.port, 'POST', '/api/login', {
          body: { username, password: 'wrong password' },
          from: `127.0.1.${i}`,
        })
        assert.equal(r.status, 401)
        return performance.now() - t0
      }
      const known: number[] = []
      const unknown: number[] = []
      for (let i = 0; i < 3; i++) {
        known.push(await time('alice', i))
        unknown.push(await time('nobody', 10 + i))
      }
      const med = (a: number[]) => a.sort((x, y) => x - y)[1]
      const ratio = med(known) / med(unknown)
      assert.ok(
        ratio > 0.5 && ratio < 2,
        `known ${med(known).toFixed(0)} ms, unknown ${med(unknown).toFixed(0)} ms`,
      )
      assert.ok(med(unknown) > 20, `an unknown user still pays for a hash (${med(unknown).toFixed(0)} ms)`)
    } finally {
      await t.admin.stop()
      await rm(t.dir, { recursive: true, force: true })
    }
  })
})
