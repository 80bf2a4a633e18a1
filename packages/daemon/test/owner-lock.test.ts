/**
 * A protected network end to end, in process (no TUN): the owner's daemon starts locked and refuses
 * admin actions with the named error, a wrong passphrase is refused, unlock lets key create sign,
 * a member joins through the owner's node (bound under the reserved key name), and after lock the
 * overlay ping still passes both ways while key create is refused again. The audit log verifies.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { createLogger } from '@meshlan/mesh'
import { callControl } from '../src/control.ts'
import { Controller } from '../src/controller.ts'
import { createDaemon } from '../src/daemon.ts'
import { StateDir } from '../src/state.ts'

const quiet = createLogger('t', { level: 'error' })
const CONFIG =
  'listen = ["/ip4/127.0.0.1/tcp/0"]\nlog_level = "error"\n[tun]\nenabled = false\n[admin]\nlisten = []\n'
it('a protected owner starts locked (key create refused), unlocks, admits a member; locked again, pings pass both ways: locked, unlock, member joins, lock, ping still works', async () => {
  const root = await mkdtemp(join(tmpdir(), 'smoke-'))
  const o = join(root, 'o')
  const m = join(root, 'm')
  for (const d of [o, m]) {
    await mkdir(d)
    await writeFile(join(d, 'config.toml'), CONFIG)
  }
  const c = new Controller({ state: new StateDir(o), hostRoutes: async () => [] })
  await c.init({ name: 'owner' })
  await c.networkCreate({ name: 'lab', passphrase: 'correct horse battery' })
  const od = createDaemon({ stateDir: o }, { log: quiet })
  await od.start()
  const call = <T>(d: string, meth: string, p = {}) => callControl<T>(join(d, 'control.sock'), d, meth, p)
  assert.deepEqual(await call(o, 'lock-status'), { protected: true, locked: true })
  await assert.rejects(
    call(o, 'keyCreate', { name: 'a', allowAll: true }),
    /^Error: locked: run `meshlan unlock`|locked: run `meshlan unlock`/,
  )
  await assert.rejects(call(o, 'unlock', { passphrase: 'wrong passphrase' }), /wrong passphrase/)
  await call(o, 'unlock', { passphrase: 'correct horse battery' })
  const k = await call<{ joinString: string }>(o, 'keyCreate', { name: 'a', allowAll: true })
  const mc = new Controller({ state: new StateDir(m), hostRoutes: async () => [] })
  await mc.join({ joinString: k.joinString, name: 'member' })
  const md = createDaemon({ stateDir: m }, { log: quiet })
  await md.start()
  let r: { ok: boolean } = { ok: false }
  for (let i = 0; i < 40 && !r.ok; i++) {
    await new Promise((x) => setTimeout(x, 500))
    r = await call<{ ok: boolean }>(m, 'ping', { target: 'owner', count: 1 })
  }
  await call(o, 'lock')
  await assert.rejects(call(o, 'keyCreate', { name: 'b' }), /locked/)
  const r2 = await call<{ ok: boolean }>(m, 'ping', { target: 'owner', count: 2 })
  const r3 = await call<{ ok: boolean }>(o, 'ping', { target: 'member', count: 2 })
  assert.ok(r.ok, 'member pings the owner before lock')
  const events = (await readFile(join(o, 'audit.log'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).event)
  assert.deepEqual(
    events.filter((e) => e !== 'policy.sign'),
    ['key.create', 'unlock', 'unlock', 'key.create', 'lock', 'key.create'],
  )
  assert.equal((await call<{ ok: boolean }>(o, 'audit-verify')).ok, true)
  await md.stop()
  await od.stop()
  assert.ok(r.ok && r2.ok && r3.ok)
})
