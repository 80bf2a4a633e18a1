/** Durations like `90s`, `30m`, `24h`, `7d`, `2w` (combinable: `1d12h`). */
import type { Result } from '@meshlan/wire'

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** Parses a duration into milliseconds. Never throws. */
export function parseDuration(text: string): Result<number> {
  const s = String(text).trim().toLowerCase()
  if (!/^(\d+[smhdw])+$/.test(s)) {
    return { ok: false, reason: `${JSON.stringify(text)} is not a duration: use e.g. 30m, 24h or 7d` }
  }
  let ms = 0
  for (const m of s.matchAll(/(\d+)([smhdw])/g)) ms += Number(m[1]) * UNIT_MS[m[2]]
  if (ms <= 0 || !Number.isSafeInteger(ms))
    return { ok: false, reason: `${JSON.stringify(text)} is out of range` }
  return { ok: true, value: ms }
}
