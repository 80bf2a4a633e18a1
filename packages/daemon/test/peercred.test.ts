/**
 * The control socket serves root and the daemon's own user only: SO_PEERCRED is checked on every
 * connection (native/peercred.c), and the socket file is 0600 from its first moment. Also the
 * contract test of the one Node private field we read (`net.Socket._handle.fd`).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { peerCredentials, socketFd, socketPeerCredentials } from '@meshlan/tun'
import { type ControlServer, callControl, listenControl } from '../src/control.ts'

const CLIENT = fileURLToPath(new URL('./fixtures/raw-control-client.ts', import.meta.url))
const NOBODY = 65534
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never

/** Runs the raw client as `nobody` (setpriv): what that user gets from the socket. */
function asNobody(path: string): Promise<{ uid: number; connectError?: string; line?: string | null }> {
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        process.execPath,
        '--disable-warning=ExperimentalWarning',
        CLIENT,
        path,
      ],
      { timeout: 15_000 },
      (err, stdout, stderr) => {
        if (err != null) reject(new Error(`the client as nobody failed: ${err.message}\n${stderr}`))
        else resolve(JSON.parse(stdout))
      },
    )
  })
}

const rootSkip = (): string | false =>
  process.getuid?.() !== 0 ? 'needs root (runs a client as nobody with setpriv)' : false

describe('socketFd / peerCredentials (contract with Node and the kernel)', () => {
  it('reads the fd of a connected net.Socket and the peer credentials on both ends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshlan-peercred-'))
    const path = join(dir, 's.sock')
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer((s) => {
        resolve(s)
        server.close()
      })
      server.listen(path)
    })
    await new Promise((r) => setTimeout(r, 50))
    const client = connect(path)
    await new Promise((r) => client.once('connect', r))
    const server = await accepted
    try {
      for (const s of [client, server]) {
        const fd = socketFd(s)
        assert.equal(
          typeof fd,
          'number',
          'Node changed net.Socket._handle.fd: update socketFd() in packages/tun/src/peercred.ts',
        )
        assert.deepEqual(socketPeerCredentials(s), {
          pid: process.pid,
          uid: process.getuid?.(),
          gid: process.getgid?.(),
        })
      }
      assert.throws(() => peerCredentials(0x7fff_fff0), { code: 'EBADF' })
      client.destroy()
      await new Promise((r) => client.once('close', r))
      assert.equal(socketFd(client), null, 'a destroyed socket has no fd')
    } finally {
      client.destroy()
      server.destroy()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('control socket: peer credentials', () => {
  let dir: string
  let open: ControlServer | null = null
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlan-ctlcred-'))
    await chmod(dir, 0o755) // others may reach the socket file: only its mode and SO_PEERCRED guard it
  })
  after(async () => {
    await open?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('creates the socket 0600', async () => {
    const path = join(dir, 'mode.sock')
    const server = await listenControl(path, dir, async () => 'ok', silent)
    try {
      assert.equal((await stat(path)).mode & 0o777, 0o600)
    } finally {
      await server.close()
    }
  })

  it('a 0600 socket is unreachable for nobody', { skip: rootSkip() }, async () => {
    const path = join(dir, 'default.sock')
    open = await listenControl(path, dir, async () => ({ served: true }), silent)
    const r = await asNobody(path)
    assert.equal(r.uid, NOBODY)
    assert.equal(r.connectError, 'EACCES')
    await open.close()
    open = null
  })

  it('nobody is refused with a message saying who may use it; root is served', {
    skip: rootSkip(),
  }, async () => {
    const path = join(dir, 'open.sock')
    // a world-writable socket: only the SO_PEERCRED check stands between nobody and the daemon
    open = await listenControl(path, dir, async () => ({ served: true }), silent, { mode: 0o666 })
    const r = await asNobody(path)
    assert.equal(r.uid, NOBODY)
    assert.equal(r.connectError, undefined)
    const res = JSON.parse(r.line ?? 'null')
    assert.equal(res?.ok, false, `nobody was served: ${r.line}`)
    assert.equal(res.error.code, 'ERR_NOT_PERMITTED')
    assert.match(
      res.error.message,
      /serves only root, its own user \(uid 0\) and the groups meshlan \(read-only\) and meshlan-admin, not uid 65534/,
    )
    assert.match(res.error.message, /run as root \(sudo meshlan …\)/)
    assert.equal(open.refused, 1)
    assert.deepEqual(await callControl(path, dir, 'info'), { served: true })
    assert.equal(open.refused, 1)
  })
})
