import type { ChildProcess } from 'node:child_process'
import type { WriteStream } from 'node:fs'
import { DEFAULT_OUTPUT_KEEP_BYTES, DEFAULT_WAIT_TIMEOUT_MS } from './constants.ts'
import { LabTimeoutError } from './errors.ts'

/** How a spawned process ended. */
export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** A process started by `host.spawn()`, tracked by its lab and killed at teardown. */
export class LabProcess {
  /** Host (or router) name it runs in. */
  readonly host: string
  readonly command: string
  readonly args: readonly string[]
  /** Where stdout and stderr are written (interleaved). */
  readonly logFile: string
  readonly child: ChildProcess
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>
  #exit: ProcessExit | undefined
  #output = ''
  #listeners = new Set<() => void>()

  constructor(
    host: string,
    command: string,
    args: readonly string[],
    logFile: string,
    child: ChildProcess,
    log: WriteStream,
  ) {
    this.host = host
    this.command = command
    this.args = args
    this.logFile = logFile
    this.child = child
    const onData = (chunk: Buffer) => {
      log.write(chunk)
      this.#output += chunk.toString('utf8')
      if (this.#output.length > DEFAULT_OUTPUT_KEEP_BYTES) {
        this.#output = this.#output.slice(this.#output.length - DEFAULT_OUTPUT_KEEP_BYTES)
      }
      for (const l of this.#listeners) l()
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    this.exited = new Promise((resolve) => {
      let done = false
      const finish = (exit: ProcessExit) => {
        if (done) return
        done = true
        this.#exit = exit
        log.end()
        for (const l of this.#listeners) l()
        resolve(exit)
      }
      child.on('close', (code, signal) => finish({ code, signal }))
      child.on('error', () => finish({ code: 127, signal: null }))
    })
  }

  /** OS pid (the command itself: `ip netns exec` execs it in place). */
  get pid(): number | undefined {
    return this.child.pid
  }

  /** Undefined while running. */
  get exit(): ProcessExit | undefined {
    return this.#exit
  }

  get running(): boolean {
    return this.#exit === undefined
  }

  /** stdout+stderr so far (the last DEFAULT_OUTPUT_KEEP_BYTES). */
  output(): string {
    return this.#output
  }

  /** Sends a signal; false when it already exited. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (!this.running) return false
    return this.child.kill(signal)
  }

  /** Waits until the output matches `pattern`; returns the match. Rejects on timeout or early exit. */
  waitForOutput(pattern: RegExp | string, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<RegExpMatchArray> {
    const re =
      typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer)
        this.#listeners.delete(check)
      }
      const check = () => {
        const m = this.#output.match(re)
        if (m) {
          cleanup()
          resolve(m)
        } else if (!this.running) {
          cleanup()
          reject(
            new LabTimeoutError(
              `${this.command} on ${this.host} exited (${JSON.stringify(this.#exit)}) before printing ${re}; see ${this.logFile}`,
            ),
          )
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(
          new LabTimeoutError(
            `${this.command} on ${this.host} did not print ${re} in ${timeoutMs} ms; see ${this.logFile}`,
          ),
        )
      }, timeoutMs)
      this.#listeners.add(check)
      check()
    })
  }
}
