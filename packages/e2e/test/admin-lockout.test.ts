/**
 * The admin API's per-IP lockout and the owner key's lock, end to end in the lab (issue 11): one
 * host runs a daemon whose network has a protected owner key (so it starts locked) with the admin
 * API on its LAN address; an attacker host and another host talk to it over the lab's LAN. For each
 * of bootstrap, unlock and login: five failures from the attacker, then its sixth try — with the
 * right secret — answers 429 with Retry-After, while the other host succeeds at once. Admin actions
 * are refused while the key is locked and accepted after the other host unlocks it; the audit log
 * records all of it and its chain verifies.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canRunLabs } from '@meshlan/lab'
import { createMeshLab, type MeshHost, type MeshLab } from '../src/index.ts'

const can = canRunLabs()
const skip = can.ok ? false : `needs a lab: ${can.reason}`
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}

const PORT = 7947
const PASSWORD = 'correct horse battery staple'
const PASSPHRASE = 'owner key passphrase for the lab'

interface Answer {
  status: number
  retryAfter: string | null
  cookie: string | null
  body: { csrf?: string; error?: { code: string; message: string }; [k: string]: unknown }
}

/** One HTTP request from inside a host's namespace (node's fetch), answered as JSON. */
async function request(
  n: MeshHost,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const script = `
    const [url, body, headers] = process.argv.slice(1)
    fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...JSON.parse(headers) },
      body, signal: AbortSignal.timeout(10000) })
      .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status,
        retryAfter: r.headers.get('retry-after'), cookie: r.headers.get('set-cookie'),
        body: await r.json().catch(() => ({})) })))
      .catch((e) => { process.stdout.write(JSON.stringify({ status: 0, body: { error: { code: String(e.cause?.code ?? e.name) } } })) })`
  const r = await n.host.exec(
    process.execPath,
    ['-e', script, url, JSON.stringify(body), JSON.stringify(headers)],
    {
      timeoutMs: 20_000,
    },
  )
  return JSON.parse(r.stdout) as Answer
}

describe('admin API lockout per IP and the owner key lock (lab: server, attacker, other)', { skip }, () => {
  let ml: MeshLab
  let server: MeshHost
  let attacker: MeshHost
  let other: MeshHost
  let url: string
  let token: string
  /** The other host's session: cookie and CSRF token. */
  let session: Record<string, string>

  before(async () => {
    ml = await createMeshLab({
      prefix: 'mlal',
      hosts: ['server', 'attacker', 'other'],
      cidr: '198.18.46.0/24',
    })
    server = ml.node('server')
    attacker = ml.node('attacker')
    other = ml.node('other')
    url = `http://${server.host.address()}:${PORT}`
    await server.cli(['init', '--name', 'server'])
    const pass = `${server.state}/passphrase`
    await server.host.exec('sh', ['-c', `printf '%s' '${PASSPHRASE}' > ${pass}`])
    await server.cli(['network', 'create', 'lab', '--passphrase-file', pass])
    await server.host.exec('rm', [pass])
    server.config(
      `[tun]\nenabled = false\n[admin]\nlisten = ["${server.host.address()}:${PORT}"]\npublic = true\n`,
    )
    await server.cli(['up'])
    token = (await server.cli(['admin', 'bootstrap'])).trim()
  })
  after(async () => {
    if (ml == null) return
    await server?.run(['down']).catch(() => {})
    await ml.teardown()
  })

  /** Five failures from the attacker, then its right secret: 429 with Retry-After. */
  async function lockOut(path: string, wrong: unknown, right: unknown, headers: Record<string, string> = {}) {
    for (let i = 0; i < 5; i++) {
      const a = await request(attacker, `${url}${path}`, wrong, headers)
      assert.equal(a.status, 401, `${path} failure ${i + 1}: ${JSON.stringify(a.body)}`)
    }
    const locked = await request(attacker, `${url}${path}`, right, headers)
    assert.equal(locked.status, 429, `${path}: the right secret from a locked-out address`)
    assert.ok(Number(locked.retryAfter) > 0, `Retry-After: ${locked.retryAfter}`)
    return Number(locked.retryAfter)
  }

  it('bootstrap: the attacker is locked out even with the right token; the other host bootstraps', async () => {
    const s = await lockOut(
      '/api/bootstrap',
      { token: 'wrong-token-0123456789', username: 'mallory', password: PASSWORD },
      { token, username: 'mallory', password: PASSWORD },
    )
    console.log(`# bootstrap: attacker locked out for ${s} s after 5 wrong tokens`)
    const ok = await request(other, `${url}/api/bootstrap`, { token, username: 'alice', password: PASSWORD })
    assert.equal(ok.status, 201, JSON.stringify(ok.body))
  })

  it('while the owner key is locked, admin actions are refused with what to do', async () => {
    const login = await request(other, `${url}/api/login`, { username: 'alice', password: PASSWORD })
    assert.equal(login.status, 200)
    session = { Cookie: String(login.cookie).split(';')[0], 'X-CSRF-Token': String(login.body.csrf) }
    const refused = await request(other, `${url}/api/keys`, { name: 'laptop' }, session)
    assert.equal(refused.status, 423, JSON.stringify(refused.body))
    assert.equal(refused.body.error?.code, 'ERR_LOCKED')
    assert.match(String(refused.body.error?.message), /meshlan unlock/)
    assert.doesNotMatch(await server.cli(['key', 'list']), /laptop/)
  })

  it('unlock: a logged-in attacker is locked out even with the right passphrase; the other host unlocks', async () => {
    const login = await request(attacker, `${url}/api/login`, { username: 'alice', password: PASSWORD })
    assert.equal(login.status, 200, 'the attacker has a session (a stolen password)')
    const theirs = { Cookie: String(login.cookie).split(';')[0], 'X-CSRF-Token': String(login.body.csrf) }
    const s = await lockOut(
      '/api/unlock',
      { passphrase: 'not the passphrase' },
      { passphrase: PASSPHRASE },
      theirs,
    )
    console.log(`# unlock: attacker locked out for ${s} s after 5 wrong passphrases`)
    assert.deepEqual(JSON.parse(await server.cli(['lock', '--status', '--json'])), {
      protected: true,
      locked: true,
    })
    const ok = await request(other, `${url}/api/unlock`, { passphrase: PASSPHRASE }, session)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.locked, false)
  })

  it('after unlock the same admin action is accepted and reaches the daemon', async () => {
    const created = await request(other, `${url}/api/keys`, { name: 'laptop' }, session)
    assert.equal(created.status, 200, JSON.stringify(created.body))
    assert.match(await server.cli(['key', 'list']), /laptop/)
  })

  it('login: the attacker is locked out even with the right password; the other host logs in', async () => {
    const s = await lockOut(
      '/api/login',
      { username: 'alice', password: 'wrong password 12345' },
      { username: 'alice', password: PASSWORD },
    )
    console.log(`# login: attacker locked out for ${s} s after 5 wrong passwords`)
    const ok = await request(other, `${url}/api/login`, { username: 'alice', password: PASSWORD })
    assert.equal(ok.status, 200)
  })

  it('the audit log has every lockout with the attacker as source, the refusal, the unlock; the chain verifies', async () => {
    const { entries } = JSON.parse(await server.cli(['audit', '--json'])) as {
      entries: Array<{
        event: string
        source: string
        ok: boolean
        detail?: Record<string, unknown>
      }>
    }
    const from = `ip:${attacker.host.address()}`
    const lockouts = entries.filter((e) => e.event === 'lockout' && e.source === from)
    const what = lockouts.map((e) => String(e.detail?.on)).sort()
    assert.deepEqual([...new Set(what)], ['bootstrap', 'login', 'unlock'], JSON.stringify(lockouts))
    const otherIp = `ip:${other.host.address()}`
    assert.ok(entries.some((e) => e.event === 'key.create' && e.ok === false && e.source === otherIp))
    assert.ok(entries.some((e) => e.event === 'unlock' && e.ok && e.source === otherIp))
    assert.ok(entries.some((e) => e.event === 'key.create' && e.ok && e.source === otherIp))
    const verify = await server.run(['audit', '--verify'])
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
  })
})
