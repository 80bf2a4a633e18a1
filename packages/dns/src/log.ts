/**
 * What the resolver and host integration need of a logger: the daemon passes its scoped
 * `@meshlan/mesh` Logger (structurally compatible). Fields are flat primitives; query names and
 * raw packet bytes are logged at debug at most.
 */
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
