/** The value every parser returns: bad input is a value, never an exception. */
export type Result<T> = { ok: true; value: T } | { ok: false; reason: string }

/** Build a success value. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value }
}

/** Build a failure value. */
export function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason }
}
