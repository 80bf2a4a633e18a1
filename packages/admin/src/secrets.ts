/**
 * High-entropy secrets (session ids, CSRF tokens, bootstrap tokens, recovery codes) and their
 * stored form. They carry ≥ 80 random bits, so a plain SHA-256 is enough to store them: nobody can
 * brute-force the preimage, and unlike a password they need no slow hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** `bytes` random bytes as base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** Constant-time equality of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz'

/**
 * A recovery code: 16 characters of Crockford base32 (80 bits) as `xxxx-xxxx-xxxx-xxxx`, no
 * letters that read alike (i, l, o, u).
 */
export function recoveryCode(): string {
  const bytes = randomBytes(16)
  let s = ''
  for (let i = 0; i < 16; i++) s += CROCKFORD[bytes[i] & 31]
  return s.match(/.{4}/g)?.join('-') ?? s
}

/** The form a recovery code is compared in: lowercase, no dashes or spaces. */
export function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '')
}
