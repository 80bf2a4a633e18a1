/**
 * How the CLI reaches a node: through the daemon's control socket when it runs, else the same
 * Controller directly on the state directory. Also starts and stops the daemon.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type ApiMethod,
  type ApiParams,
  type ApiResult,
  type ControllerApi,
  type ControllerApiMethod,
  callControl,
  DAEMON_ENTRY,
  DAEMON_ENV,
  DAEMON_NODE_FLAGS,
  DAEMON_START_TIMEOUT_MS,
  DAEMON_STOP_TIMEOUT_MS,
  DaemonNotRunningError,
  DaemonStartError,
  DaemonStopError,
  isListening,
  LOG_TAIL_LINES,
  StateDir,
} from '@meshlan/daemon/client'

/** The second factor for owner actions (`--otp`, `--otp-user`): sent with every call to the daemon. */
export interface SecondFactor {
  otp?: string
  otpUser?: string
}

/** The daemon's answer when an owner action needs a TOTP code (admin-service.ts proveCliOtp). */
const ERR_TOTP_REQUIRED = 'ERR_TOTP_REQUIRED'

export class Client {
  readonly state: StateDir
  private factor: SecondFactor

  constructor(stateDir: string, factor: SecondFactor = {}) {
    this.state = new StateDir(stateDir)
    this.factor = factor
  }

  get socket(): string {
    return this.state.socketPath()
  }

  daemonRunning(): Promise<boolean> {
    return isListening(this.socket)
  }

  /** A request to the running daemon, typed by the control API (`ApiMethods`). */
  async call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
    const send = () =>
      callControl<ApiResult<M>>(this.socket, this.state.dir, method, {
        ...(params as Record<string, unknown>),
        ...(this.factor.otp == null ? {} : { otp: this.factor.otp }),
        ...(this.factor.otpUser == null ? {} : { otpUser: this.factor.otpUser }),
      })
    try {
      return await send()
    } catch (err) {
      // no --otp and a terminal: ask once, as sudo asks for a password
      if (
        (err as { code?: string }).code !== ERR_TOTP_REQUIRED ||
        this.factor.otp != null ||
        !process.stdin.isTTY
      )
        throw err
      process.stderr.write(`${(err as Error).message}\n`)
      const { askHidden } = await import('./passphrase.ts')
      this.factor = { ...this.factor, otp: (await askHidden('TOTP code: ')).trim() }
      return send()
    }
  }

  /** A controller operation: through the daemon when it runs, else on the state files. */
  async control<M extends ControllerApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
    if (await this.daemonRunning()) return this.call(method, params)
    // offline: the whole daemon package (libp2p included) loads only here, not at start-up
    const { AUDIT_FILE, AuditLog, CONTROLLER_METHODS, Controller } = await import('@meshlan/daemon')
    if (!(CONTROLLER_METHODS as readonly string[]).includes(method))
      throw new Error(`not a controller method: ${method}`)
    // the same audit log the daemon writes (docs/admin-security.md): offline admin actions count too
    const audit = new AuditLog({ file: join(this.state.dir, AUDIT_FILE) })
    const controller: ControllerApi = new Controller({ state: this.state, audit })
    const fn = controller[method] as (p: ApiParams<M>) => Promise<ApiResult<M>>
    return fn.call(controller, params)
  }

  async logTail(lines = LOG_TAIL_LINES): Promise<string> {
    const text = await readFile(this.state.path('log'), 'utf8').catch(() => '')
    return text.trimEnd().split('\n').slice(-lines).join('\n')
  }

  /** Spawns the daemon detached (logs to daemon.log) and waits until its socket answers. */
  async spawnDaemon(timeoutMs = DAEMON_START_TIMEOUT_MS): Promise<number> {
    await this.state.ensure()
    const logFd = openSync(this.state.path('log'), 'a', 0o600)
    let exited: number | null = null
    let pid: number
    try {
      const child = spawn(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          ...DAEMON_NODE_FLAGS,
          DAEMON_ENTRY,
          '--state',
          this.state.dir,
        ],
        { detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, ...DAEMON_ENV } },
      )
      child.on('exit', (code) => {
        exited = code ?? 1
      })
      child.unref()
      pid = child.pid ?? 0
    } finally {
      closeSync(logFd)
    }
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (await this.daemonRunning()) return pid
      if (exited != null) throw new DaemonStartError(`it exited with code ${exited}`, this.state.path('log'))
      await sleep(100)
    }
    throw new DaemonStartError(`no answer within ${Math.round(timeoutMs / 1000)} s`, this.state.path('log'))
  }

  /** Asks the daemon to stop and waits until its process has exited. */
  async stopDaemon(timeoutMs = DAEMON_STOP_TIMEOUT_MS): Promise<number> {
    if (!(await this.daemonRunning())) throw new DaemonNotRunningError(this.state.dir)
    const { pid } = await this.call('shutdown', {})
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!alive(pid)) return pid
      await sleep(100)
    }
    throw new DaemonStopError(pid)
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
