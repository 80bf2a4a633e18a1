/**
 * Scoped loggers with fixed field names.
 *
 * One line per event: `<iso time> <level> <scope> <msg> key=value ...`. Fields are flat
 * primitives; callers never pass keys, secrets or raw packet bytes (those belong at debug at most,
 * and even then only lengths and reason codes). Level comes from MESHLAN_LOG (error, warn, info,
 * debug; default info) and output goes to stderr so stdout stays for command results.
 *
 * Under systemd, when stderr is the journal (JOURNAL_STREAM names its device and inode), a line is
 * `<N><level> <scope> <msg> ...` instead: the journal adds its own timestamp, and the sd-daemon
 * priority prefix `<N>` lets `journalctl -p warning` filter.
 */
import { fstatSync } from 'node:fs'
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
/** syslog priorities (sd-daemon(3) prefixes): err, warning, info, debug. */
const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 }

/** Whether fd 2 is the stream JOURNAL_STREAM (`device:inode`) names (systemd.exec(5)). */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const js = env.JOURNAL_STREAM
  if (js == null || !/^\d+:\d+$/.test(js)) return false
  try {
    const st = fstatSync(2, { bigint: true })
    const [dev, ino] = js.split(':')
    return st.dev === BigInt(dev) && st.ino === BigInt(ino)
  } catch {
    return false
  }
}

let journal: boolean | null = null

/** A level shared by a logger and its children, changed at once for all (config reload). */
export interface LogLevelRef {
  level: LogLevel
}

/** The level MESHLAN_LOG asks for (default info). */
export function envLogLevel(): LogLevel {
  const v = (process.env.MESHLAN_LOG ?? 'info').toLowerCase()
  return v in ORDER ? (v as LogLevel) : 'info'
}

export type LogSink = (line: string) => void

const stderrSink: LogSink = (line) => {
  process.stderr.write(line + '\n')
}

function format(level: LogLevel, scope: string, msg: string, fields?: LogFields): string {
  journal ??= stderrIsJournal()
  let line = journal
    ? `<${PRIORITY[level]}>${level.padEnd(5)} ${scope} ${msg}`
    : `${new Date().toISOString()} ${level.padEnd(5)} ${scope} ${msg}`
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

/**
 * A logger for `scope`. `levelRef` shares one changeable level with every child (the daemon's
 * config reload); `level` fixes one; neither: MESHLAN_LOG.
 */
export function createLogger(
  scope: string,
  opts: { level?: LogLevel; levelRef?: LogLevelRef; sink?: LogSink } = {},
): Logger {
  const ref = opts.levelRef ?? { level: opts.level ?? envLogLevel() }
  const sink = opts.sink ?? stderrSink
  const emit = (l: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[l] <= ORDER[ref.level]) sink(format(l, scope, msg, fields))
  }
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    get debugEnabled() {
      return ref.level === 'debug'
    },
    child: (s) => createLogger(`${scope}:${s}`, { levelRef: ref, sink }),
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
