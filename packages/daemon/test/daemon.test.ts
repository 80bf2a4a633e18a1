import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createLogger, type NodeStatus } from '@meshlan/mesh'
import { parseJoinString } from '@meshlan/wire'
import { callControl, isListening } from '../src/control.ts'
import { Controller } from '../src/controller.ts'
import { createDaemon, type Daemon } from '../src/daemon.ts'
import { DaemonNotRunningError, DaemonRunningError, RemoteError } from '../src/errors.ts'
import { StateDir } from '../src/state.ts'

const quiet = createLogger('test', { level: (process.env.MESHLAN_LOG as 'debug') ?? 'error' })
const CONFIG = 'listen = ["/ip4/127.0.0.1/tcp/0"]\nlog_level = "error"\n[tun]\nenabled = false\n'

describe('daemon control socket (control plane only, no TUN)', () => {
  let root: string
  let dir: string
  let daemon: Daemon
  const sock = (): string => join(dir, 'control.sock')
  const call = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    callControl<T>(sock(), dir, method, params)

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-daemon-'))
    dir = join(root, 'owner')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'config.toml'), CONFIG)
    const c = new Controller({ state: new StateDir(dir), hostRoutes: async () => [] })
    await c.init({ name: 'owner' })
    await c.networkCreate({ name: 'lab' })
  })
  after(async () => {
    await daemon?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('refuses calls when no daemon runs', async () => {
    await assert.rejects(call('status'), DaemonNotRunningError)
  })

  it('starts, answers info and status over a 0600 socket', async () => {
    daemon = createDaemon({ stateDir: dir }, { log: quiet })
    await daemon.start()
    assert.equal((await stat(sock())).mode & 0o777, 0o600)
    const info = await call<{ pid: number; node: { peerId: string; addrs: string[] } }>('info')
    assert.equal(info.pid, process.pid)
    assert.ok(info.node.addrs.some((a) => a.startsWith('/ip4/127.0.0.1/tcp/')))
    const s = await call<NodeStatus>('status')
    assert.equal(s.self.name, 'owner')
    assert.match(s.self.ip ?? '', /^10\.144\./)
    assert.equal(s.self.network.name, 'lab')
    assert.deepEqual(s.peers, [])
  })

  it('a second daemon on the same state is refused', async () => {
    await assert.rejects(createDaemon({ stateDir: dir }, { log: quiet }).start(), DaemonRunningError)
    assert.ok(await isListening(sock()))
  })

  it('owner operations go through the running node', async () => {
    const before = daemon.node?.membership.store.version ?? 0
    const r = await call<{ joinString: string; version: number }>('keyCreate', { name: 'admin' })
    assert.equal(r.version, before + 1)
    assert.equal(daemon.node?.membership.store.version, before + 1)
    const j = parseJoinString(r.joinString)
    assert.ok(j.ok)
    // bootstrap = the node's live addresses
    assert.ok(j.value.bootstrap.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.includes('/p2p/')))
    await assert.rejects(
      call('aclSet', { key: 'admin', aclText: '{"rules":[{"to":["*"],"ports":["x"]}]}' }),
      (e: Error) => {
        assert.ok(e instanceof RemoteError)
        assert.equal((e as RemoteError).code, 'ERR_INVALID_ACL')
        assert.match(e.message, /rules\[0\]\.ports\[0\]/)
        return true
      },
    )
    await call('keyRevoke', { name: 'admin' })
    assert.equal(daemon.node?.membership.store.version, before + 2)
  })

  it('reports unknown methods and bad arguments as errors', async () => {
    await assert.rejects(call('frobnicate'), /unknown control method/)
    await assert.rejects(call('ping', { target: 'x', count: 0 }), /--count/)
    const r = await call<{ ok: boolean; code: string }>('ping', { target: 'nobody', count: 1 })
    assert.equal(r.ok, false)
    assert.equal(r.code, 'NO_ROUTE')
  })

  it('shutdown stops the daemon and removes socket and pid file', async () => {
    await call('shutdown')
    await daemon.stopped
    assert.equal(await isListening(sock()), false)
    await assert.rejects(stat(sock()), { code: 'ENOENT' })
    await assert.rejects(stat(join(dir, 'daemon.pid')), { code: 'ENOENT' })
    await stat(join(dir, 'records.json'))
  })
})
