/**
 * TOTP (RFC 6238) through `otpauth`: SHA-1, 6 digits, 30 s, what every authenticator app and
 * `oathtool --totp -b SECRET` speak. A code is accepted one step either side (clock drift), and
 * each time step is used once: the counter of the last accepted code is kept, so a code seen over
 * a shoulder or replayed cannot log in again.
 */
import { Secret, TOTP } from 'otpauth'

const ISSUER = 'meshlan'

export interface TotpEnrolment {
  /** Base32 secret (what `oathtool -b` takes). */
  secret: string
  /** `otpauth://totp/...` for an authenticator app (shown as a QR by the CLI). */
  uri: string
}

function totpOf(secret: string, label = 'admin'): TOTP {
  return new TOTP({
    issuer: ISSUER,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    secret: Secret.fromBase32(secret),
  })
}

/** A new 160-bit secret (RFC 4226's recommended length) and its URI. */
export function newTotp(label: string): TotpEnrolment {
  const secret = new Secret({ size: 20 }).base32
  return { secret, uri: totpOf(secret, label).toString() }
}

/**
 * The time step `code` belongs to, if it is valid now and newer than `lastStep` (never reused);
 * null otherwise.
 */
export function checkTotp(
  secret: string,
  code: string,
  lastStep: number | null,
  now = Date.now(),
): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const t = totpOf(secret)
  const delta = t.validate({ token: code, timestamp: now, window: 1 })
  if (delta == null) return null
  const step = t.counter({ timestamp: now }) + delta
  if (lastStep != null && step <= lastStep) return null
  return step
}

/** The code for `now` (tests; the CLI never needs it). */
export function totpCode(secret: string, now = Date.now()): string {
  return totpOf(secret).generate({ timestamp: now })
}
