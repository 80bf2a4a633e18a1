/**
 * `meshlan admin bootstrap` and `meshlan admin totp enable|confirm|disable` against a daemon on
 * loopback (no TUN), with every TOTP code made by `oathtool --totp -b SECRET` (Debian oathtool):
 * the CLI's secret works in an independent implementation, login then needs a code, a recovery
 * code works once, disable needs a code; owner actions on the control socket need `--otp` once TOTP
 * is on (a wrong code refused and audited, a recovery code accepted once).
 */
import assert from 'node:assert/strict'
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const MESHLAN = fileURLToPath(new URL('../../../scripts/meshlan', import.meta.url))
const PASSWORD = 'correct horse battery staple'
const have = spawnSync('oathtool', ['--version']).status === 0
const skip = have
  ? false
  : 'oathtool is missing: apt-get install oathtool (scripts/lib/toolchain.sh installs it)'

function meshlan(
  state: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      MESHLAN,
      ['--state', state, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
      },
    )
    child.stdin?.end()
  })
}

/** oathtool's code for now + `offsetS` seconds. */
function oathtool(secret: string, offsetS = 0): string {
  const at = new Date(Date.now() + offsetS * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', at], { encoding: 'utf8' }).trim()
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a != null ? a.port : 0))
    })
  })
}

describe('meshlan admin: bootstrap and TOTP, codes from oathtool', { skip }, () => {
  let root: string
  let dir: string
  let port: number
  const api = async (path: string, body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    })
    return r.status
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-admin-cli-'))
    dir = join(root, 'owner')
    await mkdir(dir, { recursive: true })
    port = await freePort()
    await writeFile(
      join(dir, 'config.toml'),
      `listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n[admin]\nlisten = ["127.0.0.1:${port}"]\n`,
    )
    const up = await meshlan(dir, 'up')
    assert.equal(up.code, 0, up.stderr)
  })
  after(async () => {
    await meshlan(dir, 'down')
    await rm(root, { recursive: true, force: true })
  })

  it('bootstrap prints a token that creates the first admin once', async () => {
    const r = await meshlan(dir, 'admin', 'bootstrap')
    assert.equal(r.code, 0, r.stderr)
    const token = r.stdout.trim()
    assert.match(token, /^[A-Za-z0-9_-]{32}$/)
    assert.equal(await api('/api/bootstrap', { token, username: 'alice', password: PASSWORD }), 201)
    assert.equal(await api('/api/bootstrap', { token, username: 'bob', password: PASSWORD }), 409)
    const again = await meshlan(dir, 'admin', 'bootstrap')
    assert.equal(again.code, 1)
    assert.match(again.stderr, /exists already/)
  })

  it('totp enable prints URI, QR, 10 recovery codes; oathtool confirms; login then needs a code', async () => {
    const r = await meshlan(dir, 'admin', 'totp', 'enable')
    assert.equal(r.code, 0, r.stderr)
    const uri = r.stdout.split('\n')[0]
    assert.match(uri, /^otpauth:\/\/totp\/meshlan:alice\?/)
    const secret = new URL(uri).searchParams.get('secret') ?? ''
    assert.match(r.stdout, new RegExp(`secret \\(for manual entry\\): ${secret}`))
    const codes = r.stdout
      .split('\n')
      .filter((l) => /^ {2}[0-9a-z]{4}(-[0-9a-z]{4}){3}$/.test(l))
      .map((l) => l.trim())
    assert.equal(codes.length, 10)
    assert.ok(/[▀▄█]/.test(r.stderr), 'a terminal QR code on stderr')
    assert.equal(
      await api('/api/login', { username: 'alice', password: PASSWORD }),
      200,
      'not on before confirm',
    )

    const wrong = await meshlan(dir, 'admin', 'totp', 'confirm', '000000')
    assert.equal(wrong.code, 1)
    const conf = await meshlan(dir, 'admin', 'totp', 'confirm', oathtool(secret))
    assert.equal(conf.code, 0, conf.stderr)

    assert.equal(await api('/api/login', { username: 'alice', password: PASSWORD }), 401, 'code required')
    assert.equal(
      await api('/api/login', { username: 'alice', password: PASSWORD, totp: oathtool(secret, 30) }),
      200,
    )
    assert.equal(await api('/api/login', { username: 'alice', password: PASSWORD, totp: codes[0] }), 200)
    assert.equal(
      await api('/api/login', { username: 'alice', password: PASSWORD, totp: codes[0] }),
      401,
      'once',
    )

    // owner actions on the control socket now need a code too: --otp (a prompt on a terminal)
    assert.equal((await meshlan(dir, 'network', 'create', 'lab')).code, 0)
    const bare = await meshlan(dir, 'key', 'create', 'laptop')
    assert.equal(bare.code, 1)
    assert.match(bare.stderr, /TOTP is on \(admin account alice\): add --otp CODE/)
    const wrongCli = await meshlan(dir, '--otp', '000000', 'key', 'create', 'laptop')
    assert.equal(wrongCli.code, 1)
    assert.match(wrongCli.stderr, /wrong TOTP or recovery code/)
    const viaRecovery = await meshlan(dir, '--otp', codes[2], 'key', 'create', 'laptop')
    assert.equal(viaRecovery.code, 0, viaRecovery.stderr)
    const again = await meshlan(dir, '--otp', codes[2], 'key', 'create', 'desktop')
    assert.equal(again.code, 1, 'a recovery code works once on the socket too')
    const keys = (await meshlan(dir, 'key', 'list')).stdout
    assert.match(keys, /laptop/)
    assert.doesNotMatch(keys, /desktop/)
    const audit = (await meshlan(dir, 'audit')).stdout
    assert.match(audit, /totp\s+FAILED\s+uid:\d+.*wrong TOTP code/)
    assert.match(audit, /totp\.recovery\s+ok/)

    const noCode = await meshlan(dir, 'admin', 'totp', 'disable')
    assert.equal(noCode.code, 1)
    assert.match(noCode.stderr, /--otp/)
    const off = await meshlan(dir, 'admin', 'totp', 'disable', '--otp', codes[1])
    assert.equal(off.code, 0, off.stderr)
    assert.equal(await api('/api/login', { username: 'alice', password: PASSWORD }), 200, 'off again')
  })
})
