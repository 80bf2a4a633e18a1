/**
 * The admin API served by a real daemon (no TUN), with part A's file-backed Lockout: the 6th
 * login attempt from one address is 429 with Retry-After even with the right password, another
 * address logs in, and the lockout survives a daemon restart. The daemon's own log lines are then
 * run through packaging/fail2ban/filter.d/meshlan.conf with `fail2ban-regex` (Debian fail2ban).
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { totpCode } from '@meshlan/admin'
import { createLogger } from '@meshlan/mesh'
import { callControl } from '../src/control.ts'
import { Controller } from '../src/controller.ts'
import { createDaemon, type Daemon } from '../src/daemon.ts'
import { StateDir } from '../src/state.ts'

const FILTER = fileURLToPath(new URL('../../../packaging/fail2ban/filter.d/meshlan.conf', import.meta.url))
const PASSWORD = 'correct horse battery staple'
const lines: string[] = []
const log = createLogger('daemon', { level: 'info', sink: (l) => lines.push(l) })

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a != null ? a.port : 0))
    })
  })
}

function post(
  port: number,
  path: string,
  body: unknown,
  from: string,
): Promise<{ status: number; retryAfter: string | undefined }> {
  const text = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        localAddress: from,
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }))
      },
    )
    r.on('error', reject)
    r.end(text)
  })
}

describe('admin API in the daemon: per-IP lockout across a restart, fail2ban-regex on its lines', () => {
  let root: string
  let dir: string
  let port: number
  let daemon: Daemon | null = null
  const start = async () => {
    daemon = createDaemon({ stateDir: dir }, { log })
    await daemon.start()
  }
  const login = (password: string, from: string) =>
    post(port, '/api/login', { username: 'alice', password }, from)

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-admin-'))
    dir = join(root, 'owner')
    await mkdir(dir, { recursive: true })
    const c = new Controller({ state: new StateDir(dir), hostRoutes: async () => [] })
    await c.init({ name: 'owner' })
    await c.networkCreate({ name: 'lab' })
    port = await freePort()
    await writeFile(
      join(dir, 'config.toml'),
      `listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n[admin]\nlisten = ["127.0.0.1:${port}"]\n`,
    )
    await start()
  })
  after(async () => {
    await daemon?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('bootstrap through the control socket, then login', async () => {
    const state = new StateDir(dir)
    const { token } = await callControl<{ token: string }>(state.socketPath(), dir, 'adminBootstrap', {})
    const b = await post(
      port,
      '/api/bootstrap',
      { token, username: 'alice', password: PASSWORD },
      '127.0.0.1',
    )
    assert.equal(b.status, 201)
    assert.equal(
      (await post(port, '/api/bootstrap', { token, username: 'x', password: PASSWORD }, '127.0.0.1')).status,
      409,
    )
    assert.equal((await login(PASSWORD, '127.0.0.1')).status, 200)
  })

  it('5 failures lock 127.0.0.3 out (429 + Retry-After with the right password); 127.0.0.4 logs in', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await login('wrong password', '127.0.0.3')).status, 401)
    const sixth = await login(PASSWORD, '127.0.0.3')
    assert.equal(sixth.status, 429)
    assert.ok(Number(sixth.retryAfter) >= 1, `Retry-After ${sixth.retryAfter}`)
    assert.equal((await login('wrong password', '127.0.0.4')).status, 401)
    assert.equal((await login(PASSWORD, '127.0.0.4')).status, 200)
  })

  it('the lockout survives a daemon restart', async () => {
    await daemon?.stop()
    await start()
    const r = await login(PASSWORD, '127.0.0.3')
    assert.equal(r.status, 429)
    assert.ok(Number(r.retryAfter) > 200, `still ~5 min to wait, Retry-After ${r.retryAfter}`)
    assert.equal((await login(PASSWORD, '127.0.0.4')).status, 200)
  })

  it('fail2ban-regex: the filter matches every failure line the daemon wrote, and nothing else', async (t) => {
    if (spawnSync('fail2ban-regex', ['--help']).status !== 0) {
      t.skip('fail2ban-regex is missing: apt-get install fail2ban (scripts/lib/toolchain.sh installs it)')
      return
    }
    const failures = lines.filter((l) => l.includes('meshlan auth failure: event=login source=ip:'))
    assert.equal(failures.length, 6, lines.join('\n'))
    assert.ok(
      lines.some((l) => l.includes('meshlan auth lockout: event=login source=ip:127.0.0.3 retry_after=')),
    )
    const file = join(root, 'daemon.log')
    await writeFile(file, lines.join('\n') + '\n')
    const out = execFileSync('fail2ban-regex', ['--print-all-matched', file, FILTER], { encoding: 'utf8' })
    const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched/.exec(out)
    assert.ok(m != null, out)
    assert.equal(Number(m[3]), failures.length, out)
    assert.equal((out.match(/127\.0\.0\.3/g) ?? []).length >= 5, true, out)
    assert.ok(!lines.some((l) => l.includes(PASSWORD)), 'no password in the log')
  })

  it('TOTP codes guessed on the control socket (totp disable) count toward the per-uid lockout', async () => {
    const state = new StateDir(dir)
    const call = <T>(m: string, p: Record<string, unknown> = {}) =>
      callControl<T>(state.socketPath(), dir, m, p)
    const b = await call<{ secret: string }>('adminTotpBegin', {})
    await call('adminTotpConfirm', { code: totpCode(b.secret) })
    for (let i = 0; i < 4; i++)
      await assert.rejects(call('adminTotpDisable', { code: '000000' }), /wrong TOTP/)
    // the 5th wrong code starts the lockout; then even the right code is refused
    await assert.rejects(call('adminTotpDisable', { code: '000000' }), /too many failed totp attempts/)
    await assert.rejects(
      call('adminTotpDisable', { code: totpCode(b.secret, Date.now() + 30_000) }),
      /too many failed totp attempts from here: try again in \d+ s/,
    )
  })
})
