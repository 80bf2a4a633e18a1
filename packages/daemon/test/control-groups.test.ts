/**
 * The control socket's groups (issue 13, non-root CLI): root and the daemon's user may do
 * everything; members of the read group (primary or supplementary, as the kernel recorded them at
 * connect(): SO_PEERCRED + SO_PEERGROUPS) run read-only methods and are told why anything else is
 * refused; members of the admin group do everything; everybody else is refused with who may.
 * Real processes as other users (setpriv), a real socket; groups nogroup (read) and users (admin).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ControlServer, listenControl } from '../src/control.ts'
import { controlAccess, gidOf, READ_ONLY_METHODS, roleOf } from '../src/control-access.ts'

const CLIENT = fileURLToPath(new URL('./fixtures/raw-control-client.ts', import.meta.url))
const NOBODY = 65534
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never
const rootSkip = process.getuid?.() !== 0 ? 'needs root (runs clients as other users with setpriv)' : false

/** Runs the raw client as uid `nobody` with primary group `gid` and supplementary `groups`. */
function asUser(
  path: string,
  gid: number,
  groups: number[],
  method: string,
): Promise<{ uid: number; connectError?: string; line?: string | null }> {
  const g = groups.length === 0 ? ['--clear-groups'] : [`--groups=${groups.join(',')}`]
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [
        `--reuid=${NOBODY}`,
        `--regid=${gid}`,
        ...g,
        process.execPath,
        '--disable-warning=ExperimentalWarning',
        CLIENT,
        path,
        method,
      ],
      { timeout: 15_000 },
      (err, stdout, stderr) =>
        err != null ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    )
  })
}

describe('control socket groups', () => {
  let dir: string
  let server: ControlServer
  let path: string
  const READ = 65534 // nogroup
  const ADMIN = 100 // users
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlan-groups-'))
    await chmod(dir, 0o755) // like /run/meshlan: other users reach the socket file
    path = join(dir, 'control.sock')
    server = await listenControl(path, dir, async (m) => ({ served: m }), silent, {
      access: { readGid: READ, adminGid: ADMIN },
    })
  })
  after(async () => {
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('gids from /etc/group; roles from uid, primary and supplementary groups', () => {
    const text = 'root:x:0:\nmeshlan:x:997:alice\nmeshlan-admin:x:996:\n'
    assert.equal(gidOf('meshlan', text), 997)
    assert.equal(gidOf('nope', text), null)
    assert.deepEqual(controlAccess({ MESHLAN_CONTROL_GROUPS: 'nogroup,users' }), {
      readGid: 65534,
      adminGid: 100,
    })
    const access = { readGid: 997, adminGid: 996 }
    assert.equal(roleOf({ uid: 0, gid: 0, groups: [] }, 0, access), 'admin')
    assert.equal(roleOf({ uid: 1000, gid: 1000, groups: [997] }, 0, access), 'read')
    assert.equal(roleOf({ uid: 1000, gid: 997, groups: [] }, 0, access), 'read')
    assert.equal(roleOf({ uid: 1000, gid: 1000, groups: [997, 996] }, 0, access), 'admin')
    assert.equal(roleOf({ uid: 1000, gid: 1000, groups: [5] }, 0, access), null)
    assert.deepEqual([...READ_ONLY_METHODS].sort(), ['dns-status', 'info', 'netcheck', 'ping', 'status'])
  })

  it('the socket is 0666: every local user reaches the credential check and gets a clear answer', async () => {
    assert.equal((await stat(path)).mode & 0o777, 0o666)
  })

  it('the read group (supplementary) runs status; a change is refused with why', {
    skip: rootSkip,
  }, async () => {
    const ok = await asUser(path, 1, [READ], 'status')
    assert.equal(JSON.parse(ok.line ?? '{}').ok, true, JSON.stringify(ok))
    const no = await asUser(path, 1, [READ], 'keyCreate')
    const res = JSON.parse(no.line ?? '{}')
    assert.equal(res.ok, false)
    assert.equal(res.error.code, 'ERR_NOT_PERMITTED')
    assert.match(res.error.message, /keyCreate changes the node: it needs root or the meshlan-admin group/)
  })

  it('the read group as primary group counts too', { skip: rootSkip }, async () => {
    const ok = await asUser(path, READ, [], 'netcheck')
    assert.equal(JSON.parse(ok.line ?? '{}').ok, true, JSON.stringify(ok))
  })

  it('the admin group runs everything', { skip: rootSkip }, async () => {
    const ok = await asUser(path, 1, [ADMIN], 'keyCreate')
    assert.deepEqual(JSON.parse(ok.line ?? '{}').result, { served: 'keyCreate' })
  })

  it('anybody else is refused, told who may and how to be added', { skip: rootSkip }, async () => {
    const no = await asUser(path, 1, [], 'status')
    const res = JSON.parse(no.line ?? '{}')
    assert.equal(res.ok, false)
    assert.match(
      res.error.message,
      /serves only root, .* and the groups meshlan \(read-only\) and meshlan-admin/,
    )
    assert.match(res.error.message, /usermod -aG meshlan USER/)
  })
})
