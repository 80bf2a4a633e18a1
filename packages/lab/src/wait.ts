import { DEFAULT_WAIT_INTERVAL_MS, DEFAULT_WAIT_TIMEOUT_MS } from './constants.ts'
import { LabTimeoutError } from './errors.ts'

export interface WaitOptions {
  /** @default DEFAULT_WAIT_TIMEOUT_MS (10 s) */
  timeoutMs?: number
  /** @default DEFAULT_WAIT_INTERVAL_MS (50 ms) */
  intervalMs?: number
  /** Said in the LabTimeoutError message. */
  what?: string
}

/**
 * Polls `check` until it returns a value other than false/undefined/null and returns that value;
 * throws LabTimeoutError after `timeoutMs`. Errors thrown by `check` count as "not yet".
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<Exclude<T, false | undefined | null>> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS
  const intervalMs = opts.intervalMs ?? DEFAULT_WAIT_INTERVAL_MS
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== false && v !== undefined && v !== null) return v as Exclude<T, false | undefined | null>
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : ''
      throw new LabTimeoutError(
        `timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'}${why}`,
      )
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
