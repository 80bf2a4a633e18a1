/**
 * The owner key and the audit log from the command line (issue 11): `network create
 * --passphrase-file -` offline (audited: the offline controller writes the same audit.log);
 * `audit --verify` exits 0 on the intact log and 1 naming the line after a one-byte edit; with the
 * daemon up (no TUN), `unlock --passphrase-file -` reads stdin, a wrong passphrase is refused,
 * `lock` locks again, and `network protect` changes the passphrase.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { meshlan } from './fixtures/run-cli.ts'

const PASS = 'correct horse battery staple'

describe('meshlan unlock, lock, audit, network create/protect with a passphrase', () => {
  let root: string
  let state: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-cli-lock-'))
    state = join(root, 'o')
    await mkdir(state, { recursive: true, mode: 0o700 })
    await writeFile(
      join(state, 'config.toml'),
      'listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n[admin]\nlisten = []\n',
    )
    const i = await meshlan(state, ['init', '--name', 'owner'])
    assert.equal(i.code, 0, i.stderr)
  })
  after(async () => {
    await meshlan(state, ['down'])
    await rm(root, { recursive: true, force: true })
  })

  it('network create --passphrase-file - seals the owner key; offline it is audited', async () => {
    const c = await meshlan(
      state,
      ['--json', 'network', 'create', 'lab', '--subnet', '10.78.0.0/16', '--force', '--passphrase-file', '-'],
      `${PASS}\n`,
    )
    assert.equal(c.code, 0, c.stderr)
    assert.equal(JSON.parse(c.stdout).protected, true)
    const file = await readFile(join(state, 'owner.key'))
    assert.equal(file.subarray(0, 8).toString(), 'MLOWNKEY')
    const a = await meshlan(state, ['--json', 'audit'])
    assert.equal(a.code, 0, a.stderr)
    const events = (JSON.parse(a.stdout) as { entries: Array<{ event: string }> }).entries.map((e) => e.event)
    assert.deepEqual(events, ['network.create', 'network.protect'])
  })

  it('audit --verify: 0 on the intact log, 1 naming the line after a one-byte edit', async () => {
    const ok = await meshlan(state, ['audit', '--verify'])
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /audit log intact: 2 line\(s\)/)

    const log = join(state, 'audit.log')
    const intact = await readFile(log)
    const bytes = Buffer.from(intact)
    const at = bytes.indexOf('"name":"lab"') + '"name":"l'.length
    bytes[at] = 'A'.charCodeAt(0) // "lab" -> "lAb": still JSON, still chained to its predecessor
    await writeFile(log, bytes)
    const bad = await meshlan(state, ['audit', '--verify'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /audit\.log line 2 prev does not match/)
    const badJson = await meshlan(state, ['--json', 'audit', '--verify'])
    assert.equal(badJson.code, 1)
    assert.equal(JSON.parse(badJson.stdout).bad.line, 2)
    await writeFile(log, intact)
  })

  it('unlock --passphrase-file - reads stdin; a wrong one is refused; lock locks again', async () => {
    const up = await meshlan(state, ['up'])
    assert.equal(up.code, 0, up.stderr)
    const status = async () => JSON.parse((await meshlan(state, ['--json', 'lock', '--status'])).stdout)
    assert.deepEqual(await status(), { protected: true, locked: true })

    const argv = await meshlan(state, ['unlock', PASS])
    assert.equal(argv.code, 1, 'no passphrase on the command line')

    const wrong = await meshlan(state, ['unlock', '--passphrase-file', '-'], 'not the passphrase\n')
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /wrong passphrase/)

    const noTty = await meshlan(state, ['unlock'])
    assert.equal(noTty.code, 1)
    assert.match(noTty.stderr, /--passphrase-file/)

    const u = await meshlan(state, ['unlock', '--passphrase-file', '-'], `${PASS}\n`)
    assert.equal(u.code, 0, u.stderr)
    assert.deepEqual(await status(), { protected: true, locked: false })

    const l = await meshlan(state, ['lock'])
    assert.equal(l.code, 0, l.stderr)
    assert.deepEqual(await status(), { protected: true, locked: true })
  })

  it('network protect changes the passphrase (the old one from a file, the new one from stdin)', async () => {
    const old = join(root, 'old')
    await writeFile(old, `${PASS}\n`, { mode: 0o600 })
    const p = await meshlan(
      state,
      ['network', 'protect', '--old-passphrase-file', old, '--passphrase-file', '-'],
      'a new passphrase here\n',
    )
    assert.equal(p.code, 0, p.stderr)
    const u = await meshlan(state, ['unlock', '--passphrase-file', '-'], 'a new passphrase here\n')
    assert.equal(u.code, 0, u.stderr)
    const a = await meshlan(state, ['--json', 'audit'])
    const events = (JSON.parse(a.stdout) as { entries: Array<{ event: string; ok: boolean }> }).entries
    assert.deepEqual(
      events.map((e) => `${e.event}:${e.ok}`),
      [
        'network.create:true',
        'network.protect:true',
        'unlock:false',
        'unlock:true',
        'lock:true',
        'network.protect:true',
        'unlock:true',
      ],
    )
    const v = await meshlan(state, ['audit', '--verify'])
    assert.equal(v.code, 0, v.stderr)
  })
})
