/**
 * Scoped loggers with fixed field names.
 *
 * One line per event: `<iso time> <level> <scope> <msg> key=value ...`. Fields are flat
 * primitives; callers never pass keys, secrets or raw packet bytes (those belong at debug at most,
 * and even then only lengths and reason codes). Level comes from MESHLAN_LOG (error, warn, info,
 * debug; default info) and output goes to stderr so stdout stays for command results.
 */
import { LOG_RATE_LIMIT_MS } from './constants.ts'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
export type LogFields = Record<string, string | number | boolean | null | undefined>

export interface Logger {
  error(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  debug(msg: string, fields?: LogFields): void
  readonly debugEnabled: boolean
  child(scope: string): Logger
}

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

function envLevel(): LogLevel {
  const v = (process.env.MESHLAN_LOG ?? 'info').toLowerCase()
  return v in ORDER ? (v as LogLevel) : 'info'
}

export type LogSink = (line: string) => void

const stderrSink: LogSink = (line) => {
  process.stderr.write(line + '\n')
}

function format(level: LogLevel, scope: string, msg: string, fields?: LogFields): string {
  let line = `${new Date().toISOString()} ${level.padEnd(5)} ${scope} ${msg}`
  if (fields != null) {
    for (const k of Object.keys(fields)) {
      const v = fields[k]
      if (v === undefined) continue
      const s = String(v)
      line += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`
    }
  }
  return line
}

export function createLogger(scope: string, opts: { level?: LogLevel; sink?: LogSink } = {}): Logger {
  const level = opts.level ?? envLevel()
  const sink = opts.sink ?? stderrSink
  const max = ORDER[level]
  const emit = (l: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[l] <= max) sink(format(l, scope, msg, fields))
  }
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    debugEnabled: max >= ORDER.debug,
    child: (s) => createLogger(`${scope}:${s}`, { level, sink }),
  }
}

/**
 * Counts an event every time and logs it at debug at most once per `intervalMs`, with the number
 * seen since the last line. Used for drops on the packet path, where a flood must not become a
 * flood of log lines.
 */
export class RateLimitedLog {
  private readonly log: Logger
  private readonly intervalMs: number
  private last = 0
  private suppressed = 0

  constructor(log: Logger, intervalMs = LOG_RATE_LIMIT_MS) {
    this.log = log
    this.intervalMs = intervalMs
  }

  debug(msg: string, fields?: LogFields): void {
    if (!this.log.debugEnabled) return
    const now = Date.now()
    if (now - this.last < this.intervalMs) {
      this.suppressed++
      return
    }
    this.log.debug(msg, { ...fields, suppressed: this.suppressed })
    this.last = now
    this.suppressed = 0
  }
}
