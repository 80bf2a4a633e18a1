/**
 * Two daemons on loopback (no namespaces, no TUN), driven through scripts/meshlan as a user would:
 * owner init → network create → up → key create; member join → up; status, ping, revoke.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const MESHLAN = fileURLToPath(new URL('../../../scripts/meshlan', import.meta.url))
const CONFIG = 'listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function meshlan(state: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(MESHLAN, ['--state', state, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

async function ok(state: string, ...args: string[]): Promise<string> {
  const r = await meshlan(state, ...args)
  assert.equal(r.code, 0, `meshlan ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

async function until<T>(fn: () => Promise<T | null | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface Status {
  self: { name: string; ip: string | null; peerId: string; network: unknown }
  peers: Array<{
    name: string
    ip: string
    peerId: string
    path: string
    rttMs: number | null
    key: string
    bound: boolean
  }>
}

describe('meshlan CLI: owner and member daemons on loopback', () => {
  let root: string
  let owner: string
  let member: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-cli2-'))
    owner = join(root, 'owner')
    member = join(root, 'member')
    for (const d of [owner, member]) {
      await mkdir(d, { recursive: true, mode: 0o700 })
      await writeFile(join(d, 'config.toml'), CONFIG)
    }
  })
  after(async () => {
    for (const d of [owner, member]) {
      await meshlan(d, 'down')
      const pid = Number((await readFile(join(d, 'daemon.pid'), 'utf8').catch(() => '')).trim())
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
    }
    await rm(root, { recursive: true, force: true })
  })

  it('joins, sees each other, pings direct, and a revoked key disappears within 2 s', async () => {
    const ownerId = (await ok(owner, 'init', '--name', 'owner')).trim()
    assert.match(ownerId, /^12D3KooW/)
    await ok(owner, 'network', 'create', 'lab')
    assert.match(await ok(owner, 'up'), /meshlan is up .*owner 10\.144\./)
    const joinString = (await ok(owner, 'key', 'create', 'admin', '--allow-all')).trim()
    assert.match(joinString, /^mlj2_\S+$/)

    // `--state` after the command name works too
    assert.match(
      await ok(member, 'join', joinString, '--name', 'member', '--state', member),
      /joined network/,
    )
    await ok(member, 'up')

    const [os, ms] = await until(
      async () => {
        const a = JSON.parse(await ok(owner, 'status', '--json')) as Status
        const b = JSON.parse(await ok(member, 'status', '--json')) as Status
        // bound: the owner has fixed the member's name and address (until then both are provisional)
        return a.peers.length === 1 && a.peers[0].bound && b.peers.length === 1 && b.self.ip != null
          ? [a, b]
          : null
      },
      15_000,
      'both nodes to see each other, the member bound',
    )
    assert.equal(os.peers[0].name, 'member')
    assert.equal(os.peers[0].ip, ms.self.ip)
    assert.equal(os.peers[0].peerId, ms.self.peerId)
    assert.equal(os.peers[0].key, 'admin')
    assert.equal(ms.peers[0].name, 'owner')
    assert.equal(ms.peers[0].ip, os.self.ip)
    assert.equal(ms.peers[0].peerId, ownerId)
    for (const p of [...os.peers, ...ms.peers]) assert.ok(['direct', 'relay', 'none'].includes(p.path))

    const ping = JSON.parse(await ok(member, 'ping', 'owner', '--count', '2', '--json'))
    assert.equal(ping.ok, true)
    assert.equal(ping.path, 'direct')
    assert.equal(ping.rttMs.length, 2)
    assert.match(await ok(owner, 'ping', ms.self.ip as string, '--count', '1'), /via direct/)
    const none = await meshlan(member, 'ping', 'nobody', '--count', '1')
    assert.equal(none.code, 1)
    assert.match(none.stderr, /no member named or addressed nobody/)

    await ok(owner, 'key', 'revoke', 'admin')
    await until(
      async () => (JSON.parse(await ok(owner, 'status', '--json')) as Status).peers.length === 0,
      10_000,
      'the revoked member to disappear',
    )
    // the 2 s budget is the daemon's (signing → member out of the data plane), measured from its own
    // log: the CLI's start-up and our polling are not part of it
    const log = await readFile(join(owner, 'daemon.log'), 'utf8')
    const version = Math.max(...[...log.matchAll(/policy accepted version=(\d+)/g)].map((m) => Number(m[1])))
    const at = (re: RegExp) =>
      Date.parse(
        log
          .split('\n')
          .findLast((l) => re.test(l))
          ?.slice(0, 24) ?? '',
      )
    const signed = at(new RegExp(`policy accepted version=${version}\\b`))
    // the last removal of the member: the one the revocation caused
    const removed = at(new RegExp(`peer removed from the data plane peer=${ms.self.peerId}\\b`))
    assert.ok(removed - signed >= 0 && removed - signed < 2000, `revocation took ${removed - signed} ms`)

    assert.match(await ok(member, 'down'), /meshlan is down/)
    const after = await meshlan(member, 'status')
    assert.equal(after.code, 1)
    assert.match(after.stderr, /not running .*run `meshlan up`/)
  })
})
