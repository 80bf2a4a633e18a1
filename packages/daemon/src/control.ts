/**
 * The control protocol: newline-delimited JSON over the Unix socket `<state>/control.sock` (0600).
 *
 *   request  {"id": 1, "method": "status", "params": {}}
 *   response {"id": 1, "ok": true, "result": ...} | {"id": 1, "ok": false, "error": {"code", "message"}}
 *
 * One connection may carry many requests; responses carry the request's id.
 */
import { chmod, unlink } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Logger } from '@meshlan/mesh'
import { CONTROL_TIMEOUT_MS, MAX_CONTROL_LINE_BYTES } from './constants.ts'
import { DaemonNotRunningError, DaemonRunningError, RemoteError } from './errors.ts'

export interface ControlRequest {
  id: number | string
  method: string
  params?: Record<string, unknown>
}

export type ControlResponse =
  | { id: number | string | null; ok: true; result: unknown }
  | { id: number | string | null; ok: false; error: { code: string; message: string } }

export type ControlHandler = (method: string, params: Record<string, unknown>) => Promise<unknown>

export function errorToWire(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown }
  return {
    code: typeof e?.code === 'string' ? e.code : 'ERR_INTERNAL',
    message: typeof e?.message === 'string' ? e.message : String(err),
  }
}

/** Connects to the socket; resolves null when nothing listens there. */
function tryConnect(path: string, timeoutMs = 2000): Promise<Socket | null> {
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
    sock.once('error', () => {
      clearTimeout(timer)
      resolve(null)
    })
  })
}

/** True when a daemon answers on the socket. */
export async function isListening(path: string): Promise<boolean> {
  const s = await tryConnect(path)
  s?.destroy()
  return s != null
}

export interface ControlServer {
  close(): Promise<void>
}

/** Listens on `path` (replacing a stale socket; refusing when a daemon answers there). */
export async function listenControl(
  path: string,
  stateDir: string,
  handler: ControlHandler,
  log: Logger,
): Promise<ControlServer> {
  if (await isListening(path)) throw new DaemonRunningError(stateDir)
  await unlink(path).catch(() => {})
  const sockets = new Set<Socket>()
  const server: Server = createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => {})
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
        if (line.trim() !== '') void answer(sock, line)
        nl = buf.indexOf('\n')
      }
    })
  })
  const answer = async (sock: Socket, line: string): Promise<void> => {
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
    let res: ControlResponse
    try {
      const params = typeof req.params === 'object' && req.params != null ? req.params : {}
      res = { id: req.id ?? null, ok: true, result: (await handler(req.method, params)) ?? null }
    } catch (err) {
      const e = errorToWire(err)
      if (e.code === 'ERR_INTERNAL')
        log.warn('control request failed', { method: req.method, error: e.message })
      res = { id: req.id ?? null, ok: false, error: e }
    }
    if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n')
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
  await chmod(path, 0o600)
  return {
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      await unlink(path).catch(() => {})
    },
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
