import { execFile, execFileSync } from 'node:child_process'
import { DEFAULT_EXEC_MAX_BUFFER, DEFAULT_EXEC_TIMEOUT_MS } from './constants.ts'
import { LabCommandError, LabPermissionError } from './errors.ts'

/** What a finished command gave back. A non-zero exit is a value here, not an exception. */
export interface ExecResult {
  /** Exit code; null when killed by a signal (e.g. the timeout). */
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** True when the time limit killed it. */
  timedOut: boolean
}

export interface RunOptions {
  /** @default DEFAULT_EXEC_TIMEOUT_MS (30 s) */
  timeoutMs?: number
  /** Text written to the command's stdin. */
  input?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** Runs a command and resolves with its result whatever the exit code. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: DEFAULT_EXEC_MAX_BUFFER,
        env: opts.env,
        cwd: opts.cwd,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals }) | null
        if (e && typeof e.code === 'string') {
          // spawn failure (ENOENT etc.)
          resolve({ code: 127, signal: null, stdout: '', stderr: `${cmd}: ${e.message}`, timedOut: false })
          return
        }
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
          timedOut: Boolean(e?.killed && e.signal === 'SIGKILL'),
        })
      },
    )
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    else child.stdin?.end()
  })
}

function isPermissionText(stderr: string): boolean {
  return /Operation not permitted|Permission denied/i.test(stderr)
}

/** Runs a command the lab needs; throws LabCommandError (or LabPermissionError) when it fails. */
export async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    if (isPermissionText(r.stderr) && process.getuid?.() !== 0) throw new LabPermissionError(r.stderr.trim())
    throw new LabCommandError(
      [cmd, ...args].join(' '),
      r.code,
      r.timedOut ? `timed out; ${r.stderr}` : r.stderr,
    )
  }
  return r.stdout
}

/** Synchronous run for exit handlers; never throws, returns stdout ('' on failure). */
export function runSync(cmd: string, args: readonly string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, {
      timeout: timeoutMs,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
  } catch {
    return ''
  }
}
