/**
 * `relay` changes on a running daemon (issue 13's reload list): between "auto", true and false
 * live when the node started with a relay server ("auto", the default, or true), and reported as
 * needing a restart when it started with relay = false (its libp2p node has no relay server).
 * Judged by what the node itself then reports (netcheck's relayMode), not by the reload's answer.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createLogger } from '@meshlan/mesh'
import { Controller } from '../src/controller.ts'
import { createDaemon, type Daemon } from '../src/daemon.ts'
import { StateDir } from '../src/state.ts'

const quiet = createLogger('test', { level: 'error' })
const BASE = 'listen = ["/ip4/127.0.0.1/tcp/0"]\nlog_level = "error"\n[tun]\nenabled = false\n'

async function daemonWith(root: string, name: string, relay: string): Promise<{ d: Daemon; dir: string }> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  const c = new Controller({ state: new StateDir(dir), hostRoutes: async () => [] })
  await c.init({ name })
  await writeFile(join(dir, 'config.toml'), `name = "${name}"\nrelay = ${relay}\n${BASE}`)
  await c.networkCreate({ name: 'lab', force: true })
  const d = createDaemon({ stateDir: dir }, { log: quiet })
  await d.start()
  return { d, dir }
}

const mode = (d: Daemon) => d.node?.netcheck().relayMode

describe('relay on config reload', () => {
  const daemons: Daemon[] = []
  let root = ''
  after(async () => {
    for (const d of daemons) await d.stop()
    if (root !== '') await rm(root, { recursive: true, force: true })
  })

  it('auto → false → true live, each applied to the node', async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-relay-reload-'))
    const { d, dir } = await daemonWith(root, 'a', '"auto"')
    daemons.push(d)
    assert.equal(mode(d), 'auto')
    await writeFile(join(dir, 'config.toml'), `name = "a"\nrelay = false\n${BASE}`)
    assert.deepEqual(await d.reload(), { live: ['relay'], restart: [] })
    assert.equal(mode(d), 'off')
    await writeFile(join(dir, 'config.toml'), `name = "a"\nrelay = true\n${BASE}`)
    assert.deepEqual(await d.reload(), { live: ['relay'], restart: [] })
    assert.equal(mode(d), 'on')
    assert.equal(d.node?.netcheck().relay, true)
  })

  it('started with relay = false: turning it on needs a restart, and says so', async () => {
    const { d, dir } = await daemonWith(root, 'b', 'false')
    daemons.push(d)
    await writeFile(join(dir, 'config.toml'), `name = "b"\nrelay = true\n${BASE}`)
    assert.deepEqual(await d.reload(), { live: [], restart: ['relay'] })
    assert.equal(mode(d), 'off', 'unchanged until a restart')
  })
})
