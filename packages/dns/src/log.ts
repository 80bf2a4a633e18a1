/**
 * What the resolver and host integration need of a logger: the daemon passes its scoped
 * `@meshlan/mesh` Logger (structurally compatible). Fields are flat primitives; query names and
 * raw packet bytes are logged at debug at most.
 */
import { NOISY_LOG_INTERVAL_MS } from './constants.ts'

export type DnsLogFields = Record<string, string | number | boolean | null | undefined>

export interface DnsLogger {
  error(msg: string, fields?: DnsLogFields): void
  warn(msg: string, fields?: DnsLogFields): void
  info(msg: string, fields?: DnsLogFields): void
  debug(msg: string, fields?: DnsLogFields): void
}

const noop = (): void => {}

/** A logger that drops everything (the default when none is injected). */
export const silentLogger: DnsLogger = { error: noop, warn: noop, info: noop, debug: noop }

/** A debug line per event kind, at most one per NOISY_LOG_INTERVAL_MS, with `extra()` appended. */
export type NoisyLog = (what: string, fields: DnsLogFields) => void

export function noisyLog(log: DnsLogger, extra: () => DnsLogFields): NoisyLog {
  // keyed by the fixed event names of the callers, so it stays a handful of entries
  const last = new Map<string, number>()
  return (what, fields) => {
    const now = Date.now()
    if (now - (last.get(what) ?? 0) < NOISY_LOG_INTERVAL_MS) return
    last.set(what, now)
    log.debug(what, { ...fields, ...extra() })
  }
}
