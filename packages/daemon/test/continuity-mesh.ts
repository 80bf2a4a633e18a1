/**
 * The mesh the owner-continuity tests start from (owner-restore, delegated-admin): a protected
 * network on loopback — owner `o` (unlocked) and members `a`, `b`, `c` on allow-all keys `ka`, `kb`,
 * `kc` — every member bound and online at every other. Real daemons in this process, no TUN.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, type NodeStatus } from '@meshlan/mesh'
import { callControl } from '../src/control.ts'
import { Controller } from '../src/controller.ts'
import { createDaemon, type Daemon } from '../src/daemon.ts'
import { StateDir } from '../src/state.ts'

export const OWNER_PASS = 'correct horse battery'
export const BACKUP_PASS = 'backup passphrase 42'
const CONFIG =
  'listen = ["/ip4/127.0.0.1/tcp/0"]\nlog_level = "error"\n[tun]\nenabled = false\n[admin]\nlisten = []\n'
const quiet = createLogger('t', { level: 'error' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function until(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return
    await sleep(100)
  }
  assert.fail(`timed out waiting for ${what}`)
}

export interface ContinuityMesh {
  dirs: Record<string, string>
  daemons: Record<string, Daemon>
  /** The network's owner (the protected signing key's peer id). */
  owner: string
  call<T>(n: string, method: string, params?: Record<string, unknown>): Promise<T>
  /** Starts (again) the daemon of `n` on its state directory. */
  start(n: string): Promise<void>
  /** Stops every daemon and removes the state directories. */
  close(): Promise<void>
}

export async function continuityMesh(prefix: string): Promise<ContinuityMesh> {
  const root = await mkdtemp(join(tmpdir(), `${prefix}-`))
  const dirs = Object.fromEntries(['o', 'a', 'b', 'c'].map((n) => [n, join(root, n)]))
  for (const d of Object.values(dirs)) {
    await mkdir(d)
    await writeFile(join(d, 'config.toml'), CONFIG)
  }
  const daemons: Record<string, Daemon> = {}
  const m: ContinuityMesh = {
    dirs,
    daemons,
    owner: '',
    call: (n, meth, p = {}) => callControl(join(dirs[n], 'control.sock'), dirs[n], meth, p),
    start: async (n) => {
      daemons[n] = createDaemon({ stateDir: dirs[n] }, { log: quiet })
      await daemons[n].start()
    },
    close: async () => {
      for (const d of Object.values(daemons)) await d.stop().catch(() => {})
      await rm(root, { recursive: true, force: true })
    },
  }
  try {
    const oc = new Controller({ state: new StateDir(dirs.o), hostRoutes: async () => [] })
    await oc.init({ name: 'owner' })
    m.owner = (await oc.networkCreate({ name: 'lab', passphrase: OWNER_PASS })).owner
    await m.start('o')
    await m.call('o', 'unlock', { passphrase: OWNER_PASS })
    for (const n of ['a', 'b', 'c']) {
      const k = await m.call<{ joinString: string }>('o', 'keyCreate', { name: `k${n}`, allowAll: true })
      await new Controller({ state: new StateDir(dirs[n]), hostRoutes: async () => [] }).join({
        joinString: k.joinString,
        name: n,
      })
      await m.start(n)
    }
    // every member bound and online at every other member
    for (const n of ['a', 'b', 'c']) {
      await until(`${n} sees its peers`, async () => {
        const s = await m.call<NodeStatus>(n, 'status')
        return s.self.bound && s.peers.filter((p) => p.online && p.bound).length === 3
      })
    }
  } catch (err) {
    await m.close()
    throw err
  }
  return m
}
