/**
 * The unlock lockout through the daemon's control socket (issue 11): five wrong passphrases from
 * one uid end in the lockout error with its Retry-After; then even the right passphrase is refused;
 * a restarted daemon still refuses it (the count is on disk). Each failure and the lockout write
 * the stable log lines fail2ban matches, and the audit log records them.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, it } from 'node:test'
import { createLogger } from '@meshlan/mesh'
import { callControl } from '../src/control.ts'
import { Controller } from '../src/controller.ts'
import { createDaemon } from '../src/daemon.ts'
import { StateDir } from '../src/state.ts'

const PASS = 'correct horse battery'
const CONFIG =
  'listen = ["/ip4/127.0.0.1/tcp/0"]\nlog_level = "warn"\n[tun]\nenabled = false\n[admin]\nlisten = []\n'

let root = ''
after(() => rm(root, { recursive: true, force: true }))

it('5 wrong unlocks lock the uid out with a Retry-After; the right passphrase is refused, also after a restart', async () => {
  root = await mkdtemp(join(tmpdir(), 'meshlan-unlock-lockout-'))
  const o = join(root, 'o')
  await mkdir(o)
  await writeFile(join(o, 'config.toml'), CONFIG)
  const c = new Controller({ state: new StateDir(o), hostRoutes: async () => [] })
  await c.init({ name: 'owner' })
  await c.networkCreate({ name: 'lab', passphrase: PASS })

  const lines: string[] = []
  const log = createLogger('t', { level: 'warn', sink: (l) => lines.push(l) })
  const call = <T>(meth: string, p = {}) => callControl<T>(join(o, 'control.sock'), o, meth, p)
  const uid = `uid:${process.getuid?.() ?? 0}`

  let d = createDaemon({ stateDir: o }, { log })
  await d.start()
  try {
    for (let i = 1; i <= 4; i++)
      await assert.rejects(call('unlock', { passphrase: `wrong ${i} passphrase` }), /wrong passphrase/)
    await assert.rejects(
      call('unlock', { passphrase: 'wrong 5 passphrase' }),
      /too many failed unlock attempts from here: try again in 300 s \(Retry-After: 300\)/,
    )
    await assert.rejects(
      call('unlock', { passphrase: PASS }),
      /too many failed unlock attempts/,
      'right one too',
    )
    assert.deepEqual(await call('lock-status'), { protected: true, locked: true })
  } finally {
    await d.stop()
  }

  d = createDaemon({ stateDir: o }, { log })
  await d.start()
  try {
    await assert.rejects(
      call('unlock', { passphrase: PASS }),
      /too many failed unlock attempts from here: try again in \d+ s \(Retry-After: \d+\)/,
      'still locked out after a restart',
    )
    assert.deepEqual(await call('lock-status'), { protected: true, locked: true })
  } finally {
    await d.stop()
  }

  const auth = lines.filter((l) => l.includes('meshlan auth '))
  const failure = `meshlan auth failure: event=unlock source=${uid}`
  assert.equal(auth.filter((l) => l.includes(failure)).length, 7, 'five wrong, two refused while locked out')
  assert.equal(
    auth.filter((l) => l.includes(`meshlan auth lockout: event=unlock source=${uid} retry_after=300`)).length,
    1,
  )
  const audit = (await readFile(join(o, 'audit.log'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; ok: boolean; detail: Record<string, unknown> })
    .filter((e) => e.event === 'unlock' || e.event === 'lockout')
  assert.deepEqual(
    audit.map((e) => `${e.event}:${e.ok}:${e.detail.reason ?? e.detail.on}`),
    [
      ...Array.from({ length: 5 }, () => 'unlock:false:wrong passphrase'),
      'lockout:false:unlock',
      'unlock:false:locked out',
      'unlock:false:locked out',
    ],
  )
})
