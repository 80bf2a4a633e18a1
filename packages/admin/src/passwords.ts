/**
 * Password hashing: scrypt from node:crypto (memory-hard, no native dependency to build on a Pi).
 *
 * Parameters: N = 2^16, r = 8, p = 1 → 128·N·r = 64 MiB per hash; measured 0.7 s on this
 * project's loaded 2-core CI box (0.22 s at N = 2^14), so expect about 1 s on a Raspberry Pi 4 —
 * fine for a login an admin makes a few times a day. That is OWASP's scrypt floor halved in memory
 * (they name N = 2^17, 128 MiB) because the box has 1 GB and runs the mesh: with one hash at a time
 * (MAX_CONCURRENT_HASHES) login never takes more than 64 MiB, and the lockout bounds online
 * guessing anyway; scrypt's cost is for a stolen admin.json. The parameters are stored in each hash
 * (`scrypt$N$r$p$salt$hash`), so raising them later leaves old hashes valid.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { MAX_CONCURRENT_HASHES, MAX_QUEUED_HASHES } from './constants.ts'
import { BusyError } from './errors.ts'

export interface ScryptParams {
  N: number
  r: number
  p: number
}

export const SCRYPT_DEFAULT: ScryptParams = { N: 2 ** 16, r: 8, p: 1 }
const KEY_LEN = 32

let running = 0
const waiting: Array<() => void> = []

/** Runs fn with at most MAX_CONCURRENT_HASHES at once: each hash holds 64 MiB. */
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) {
    if (waiting.length >= MAX_QUEUED_HASHES) throw new BusyError()
    await new Promise<void>((r) => waiting.push(r))
  }
  running++
  try {
    return await fn()
  } finally {
    running--
    waiting.shift()?.()
  }
}

function derive(password: string, salt: Buffer, q: ScryptParams): Promise<Buffer> {
  // maxmem above 128·N·r: node's default (32 MiB) is below what N = 2^16 needs
  const maxmem = 128 * q.N * q.r + 1024 * 1024
  return limited(
    () =>
      new Promise((resolve, reject) =>
        scrypt(password, salt, KEY_LEN, { N: q.N, r: q.r, p: q.p, maxmem }, (err, key) =>
          err == null ? resolve(key) : reject(err),
        ),
      ),
  )
}

export async function hashPassword(password: string, q: ScryptParams = SCRYPT_DEFAULT): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, q)
  return ['scrypt', q.N, q.r, q.p, salt.toString('base64'), key.toString('base64')].join('$')
}

/** Parses `scrypt$N$r$p$salt$hash`; null when it is not one. */
function parseHash(stored: string): { q: ScryptParams; salt: Buffer; key: Buffer } | null {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null
  const [N, r, p] = parts.slice(1, 4).map(Number)
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0) || N > 2 ** 20) return null
  return { q: { N, r, p }, salt: Buffer.from(parts[4], 'base64'), key: Buffer.from(parts[5], 'base64') }
}

/** True when `password` matches `stored`; constant-time compare. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parseHash(stored)
  if (h == null) return false
  const key = await derive(password, h.salt, h.q)
  return key.length === h.key.length && timingSafeEqual(key, h.key)
}

/**
 * A hash no password matches, with the same parameters as real ones: verifying an unknown user
 * against it costs what a wrong password costs, so timing does not tell the two apart.
 */
export function dummyHash(q: ScryptParams = SCRYPT_DEFAULT): string {
  return [
    'scrypt',
    q.N,
    q.r,
    q.p,
    randomBytes(16).toString('base64'),
    randomBytes(KEY_LEN).toString('base64'),
  ].join('$')
}
