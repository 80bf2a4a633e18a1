/**
 * The control protocol: newline-delimited JSON over the Unix socket `<state>/control.sock` (0600).
 *
 *   request  {"id": 1, "method": "status", "params": {}}
 *   response {"id": 1, "ok": true, "result": ...} | {"id": 1, "ok": false, "error": {"code", "message"}}
 *
 * One connection may carry many requests; responses carry the request's id.
 *
 * Who may connect: root and the daemon's own user. The socket is created 0600 inside a private
 * 0700 directory and only then renamed into place, so it is never reachable with looser
 * permissions; on top of that every connection's peer credentials (SO_PEERCRED) are checked,
 * and others get one error line saying who may use the socket and how.
 */
import { statSync } from 'node:fs'
import { chmod, mkdtemp, rename, rmdir, unlink } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { Logger } from '@meshlan/mesh'
import { type PeerCredentials, peerGroups, socketFd, socketPeerCredentials } from '@meshlan/tun'
import {
  CONTROL_ADMIN_GROUP,
  CONTROL_GROUP,
  CONTROL_TIMEOUT_MS,
  MAX_CONTROL_LINE_BYTES,
} from './constants.ts'
import { type ControlAccess, type ControlRole, READ_ONLY_METHODS, roleOf } from './control-access.ts'
import { DaemonNotRunningError, DaemonRunningError, RemoteError } from './errors.ts'

export interface ControlRequest {
  id: number | string
  method: string
  params?: Record<string, unknown>
}

export type ControlResponse =
  | { id: number | string | null; ok: true; result: unknown }
  | { id: number | string | null; ok: false; error: { code: string; message: string } }

/** Who is calling: the peer's uid from SO_PEERCRED (null when a test's fake gives none). */
export interface ControlCaller {
  uid: number | null
}

export type ControlHandler = (
  method: string,
  params: Record<string, unknown>,
  caller: ControlCaller,
) => Promise<unknown>

export function errorToWire(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown }
  return {
    code: typeof e?.code === 'string' ? e.code : 'ERR_INTERNAL',
    message: typeof e?.message === 'string' ? e.message : String(err),
  }
}

/** Error code of a refused control connection (socket permissions or peer credentials). */
export const ERR_CONTROL_NOT_PERMITTED = 'ERR_NOT_PERMITTED'

/** What a user the control socket does not serve reads. */
export function notPermittedMessage(uid: number | null, daemonUid: number | null): string {
  const who = uid == null ? 'this user' : `uid ${uid}`
  const own = daemonUid == null ? 'its own user' : `its own user (uid ${daemonUid})`
  return (
    `the meshlan daemon serves only root, ${own} and the groups ${CONTROL_GROUP} (read-only) and ` +
    `${CONTROL_ADMIN_GROUP}, not ${who}: run as root (sudo meshlan …), or ask an admin to add you ` +
    `(usermod -aG ${CONTROL_GROUP} USER, then log in again)`
  )
}

/** What a member of the read-only group reads when it calls a method that changes something. */
export function adminOnlyMessage(method: string): string {
  return `${method} changes the node: it needs root or the ${CONTROL_ADMIN_GROUP} group (the ${CONTROL_GROUP} group may only read: status, ping, netcheck, dns status)`
}

/**
 * Connects to the socket; resolves null when nothing listens there, 'not-permitted' when a
 * socket is there but this user may not open it (EACCES/EPERM).
 */
function tryConnect(path: string, timeoutMs = 2000): Promise<Socket | null | 'not-permitted'> {
  return new Promise((resolve) => {
    const sock = connect(path)
    const timer = setTimeout(() => {
      sock.destroy()
      resolve(null)
    }, timeoutMs)
    sock.once('connect', () => {
      clearTimeout(timer)
      resolve(sock)
    })
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve(err.code === 'EACCES' || err.code === 'EPERM' ? 'not-permitted' : null)
    })
  })
}

/** True when a daemon answers on the socket (also when this user may not use it). */
export async function isListening(path: string): Promise<boolean> {
  const s = await tryConnect(path)
  if (s != null && s !== 'not-permitted') s.destroy()
  return s != null
}

export interface ControlServer {
  close(): Promise<void>
  /** Connections refused by the peer-credential check. */
  readonly refused: number
}

export interface ControlListenOptions {
  /**
   * Permissions of the socket file. Tests widen it to reach the peer-credential check; the
   * credential check applies whatever the mode.
   * @default 0o600
   */
  mode?: number
  /** Reads a connection's peer credentials. @default SO_PEERCRED (native addon) */
  peerCredentials?: (sock: Socket) => PeerCredentials | null
  /** Reads a connection's supplementary groups. @default SO_PEERGROUPS (native addon) */
  peerGroups?: (sock: Socket) => number[]
  /**
   * Groups served besides root and the daemon's user (control-access.ts). With either set the
   * socket file is 0666: every local user reaches the kernel's credential check and gets a clear
   * answer, instead of EACCES from the file mode. @default none
   */
  access?: ControlAccess
}

/** Refusals are logged at most this often: a local user looping on the socket cannot flood the log. */
const REFUSAL_LOG_INTERVAL_MS = 10_000

/** Listens on `path` (replacing a stale socket; refusing when a daemon answers there). */
export async function listenControl(
  path: string,
  stateDir: string,
  handler: ControlHandler,
  log: Logger,
  options: ControlListenOptions = {},
): Promise<ControlServer> {
  if (await isListening(path)) throw new DaemonRunningError(stateDir)
  await unlink(path).catch(() => {})
  const daemonUid = process.getuid?.() ?? 0
  const credentials = options.peerCredentials ?? socketPeerCredentials
  let refused = 0
  let lastRefusalLog = 0
  const access: ControlAccess = options.access ?? { readGid: null, adminGid: null }
  const groupsOf =
    options.peerGroups ??
    ((s: Socket) => {
      const fd = socketFd(s)
      return fd == null ? [] : peerGroups(fd)
    })
  /** The peer's role, or why it is refused (uid or the failure to read its credentials). */
  const refusal = (
    sock: Socket,
  ): { role: ControlRole; uid: number } | { uid: number | null; why: string } => {
    let cred: PeerCredentials | null
    let groups: number[] = []
    try {
      cred = credentials(sock)
      if (cred != null && cred.uid !== 0 && cred.uid !== daemonUid) groups = groupsOf(sock)
    } catch (err) {
      return { uid: null, why: `cannot read its credentials (${(err as Error).message})` }
    }
    if (cred == null) return { uid: null, why: 'the connection has no file descriptor' }
    const role = roleOf({ uid: cred.uid, gid: cred.gid, groups }, daemonUid, access)
    if (role != null) return { role, uid: cred.uid }
    return { uid: cred.uid, why: `uid ${cred.uid} (pid ${cred.pid})` }
  }
  const sockets = new Set<Socket>()
  const server: Server = createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => {})
    const no = refusal(sock)
    if ('why' in no) {
      refused++
      const now = Date.now()
      if (now - lastRefusalLog >= REFUSAL_LOG_INTERVAL_MS) {
        lastRefusalLog = now
        log.warn('control connection refused', { peer: no.why, refused })
      }
      const res: ControlResponse = {
        id: null,
        ok: false,
        error: { code: ERR_CONTROL_NOT_PERMITTED, message: notPermittedMessage(no.uid, daemonUid) },
      }
      sock.end(JSON.stringify(res) + '\n')
      return
    }
    let buf = ''
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => {
      buf += chunk
      if (buf.length > MAX_CONTROL_LINE_BYTES) {
        sock.end(
          JSON.stringify({
            id: null,
            ok: false,
            error: { code: 'ERR_TOO_LARGE', message: 'request too large' },
          }) + '\n',
        )
        return
      }
      let nl = buf.indexOf('\n')
      while (nl >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.trim() !== '') void answer(sock, line, no.role, { uid: no.uid })
        nl = buf.indexOf('\n')
      }
    })
  })
  const answer = async (
    sock: Socket,
    line: string,
    role: ControlRole,
    caller: ControlCaller,
  ): Promise<void> => {
    let req: ControlRequest
    try {
      req = JSON.parse(line) as ControlRequest
      if (typeof req !== 'object' || req == null || typeof req.method !== 'string')
        throw new Error('no method')
    } catch {
      const res: ControlResponse = {
        id: null,
        ok: false,
        error: {
          code: 'ERR_BAD_REQUEST',
          message: 'malformed control request: send one JSON object per line',
        },
      }
      if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n')
      return
    }
    if (role !== 'admin' && !READ_ONLY_METHODS.has(req.method)) {
      const res: ControlResponse = {
        id: req.id ?? null,
        ok: false,
        error: { code: ERR_CONTROL_NOT_PERMITTED, message: adminOnlyMessage(req.method) },
      }
      if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n')
      return
    }
    let res: ControlResponse
    try {
      const params = typeof req.params === 'object' && req.params != null ? req.params : {}
      res = { id: req.id ?? null, ok: true, result: (await handler(req.method, params, caller)) ?? null }
    } catch (err) {
      const e = errorToWire(err)
      if (e.code === 'ERR_INTERNAL')
        log.warn('control request failed', { method: req.method, error: e.message })
      res = { id: req.id ?? null, ok: false, error: e }
    }
    if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n')
  }
  // bound in a private 0700 directory, chmod'ed, then renamed into place: no moment where the
  // socket is reachable with the umask's permissions
  const dir = await mkdtemp(join(stateDir, '.control-'))
  const bound = join(dir, 'control.sock')
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(bound, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const shared = access.readGid != null || access.adminGid != null
    await chmod(bound, options.mode ?? (shared ? 0o666 : 0o600))
    await rename(bound, path)
  } catch (err) {
    server.close()
    throw err
  } finally {
    await rmdir(dir).catch(() => {})
  }
  return {
    get refused() {
      return refused
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      await unlink(path).catch(() => {})
    },
  }
}

/** The uid owning the socket file (the daemon's), null when this user cannot even stat it. */
function socketOwner(path: string): number | null {
  try {
    return statSync(path).uid
  } catch {
    return null
  }
}

/**
 * Sends one request and waits for its answer. Throws DaemonNotRunningError when no daemon
 * listens, RemoteError with the daemon's code and message when the request failed.
 */
export async function callControl<T = unknown>(
  path: string,
  stateDir: string,
  method: string,
  params: Record<string, unknown> = {},
  timeoutMs = CONTROL_TIMEOUT_MS,
): Promise<T> {
  const sock = await tryConnect(path)
  if (sock == null) throw new DaemonNotRunningError(stateDir)
  if (sock === 'not-permitted') {
    throw new RemoteError(
      ERR_CONTROL_NOT_PERMITTED,
      notPermittedMessage(process.getuid?.() ?? null, socketOwner(path)),
    )
  }
  return new Promise<T>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => {
      sock.destroy()
      reject(
        new RemoteError(
          'ERR_TIMEOUT',
          `the daemon did not answer ${method} within ${timeoutMs} ms: see daemon.log`,
        ),
      )
    }, timeoutMs)
    const done = (fn: () => void): void => {
      clearTimeout(timer)
      sock.destroy()
      fn()
    }
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => {
      buf += chunk
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      let res: ControlResponse
      try {
        res = JSON.parse(buf.slice(0, nl)) as ControlResponse
      } catch {
        done(() =>
          reject(new RemoteError('ERR_BAD_RESPONSE', 'the daemon sent a malformed answer: see daemon.log')),
        )
        return
      }
      if (res.ok) done(() => resolve(res.result as T))
      else done(() => reject(new RemoteError(res.error.code, res.error.message)))
    })
    sock.on('error', (err) =>
      done(() => reject(new RemoteError('ERR_CONTROL', `control socket: ${err.message}`))),
    )
    sock.on('close', () =>
      done(() =>
        reject(
          new RemoteError('ERR_CONTROL', `the daemon closed the connection during ${method}: see daemon.log`),
        ),
      ),
    )
    sock.write(JSON.stringify({ id: 1, method, params } satisfies ControlRequest) + '\n')
  })
}
