/**
 * Field schemas shared by the signed formats, the control messages and the join string.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { ipToUint32, parseCidr } from './cidr.ts'
import { ED25519_PUBLIC_KEY_BYTES, MAX_MULTIADDR_CHARS } from './constants.ts'
import { fromBase64 } from './encoding.ts'

/** DNS-label-like names (mesh keys, nodes): lowercase letters, digits and '-', 1-63 chars. */
export const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/

/**
 * Orders names (NAME_RE: ASCII) by code unit, which for that alphabet is what localeCompare gives
 * ('-' before digits before letters) without building an ICU collator: 3.4 MB of RSS at its first
 * use, for the daemon's status lists (issue 14, memory).
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
/** Network ids: lowercase letters, digits, '-' and '_', 1-64 chars (networkIdFrom makes `n` + 16 base32). */
export const NETWORK_ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/

/** True when `text` is the canonical string form of an Ed25519 libp2p peer id. */
export function isEd25519PeerId(text: unknown): boolean {
  if (typeof text !== 'string' || text.length < 8 || text.length > 128) return false
  try {
    const id = peerIdFromString(text)
    return id.type === 'Ed25519' && id.toString() === text
  } catch {
    return false
  }
}

/** True when `text` is canonical base64 of a 32-byte raw Ed25519 public key. */
export function isRawPublicKeyBase64(text: unknown): boolean {
  if (typeof text !== 'string' || text.length !== 44) return false
  const raw = fromBase64(text)
  return raw !== null && raw.length === ED25519_PUBLIC_KEY_BYTES
}

export const networkIdSchema = z
  .string()
  .regex(NETWORK_ID_RE, 'network id must match ^[a-z0-9][a-z0-9_-]{0,63}$')
export const nameSchema = z.string().regex(NAME_RE, 'name must match ^[a-z0-9][a-z0-9-]{0,62}$')
export const peerIdSchema = z.string().refine(isEd25519PeerId, 'must be a canonical Ed25519 peer id string')
export const publicKeySchema = z
  .string()
  .refine(isRawPublicKeyBase64, 'must be base64 of a 32-byte raw Ed25519 public key')
/** Milliseconds since the Unix epoch. */
export const timestampSchema = z.number().int().nonnegative()
export const multiaddrSchema = z
  .string()
  .min(1)
  .max(MAX_MULTIADDR_CHARS)
  .refine((s) => s.startsWith('/'), 'multiaddr must start with /')
export const ipv4Schema = z.string().refine((s) => ipToUint32(s) >= 0, 'must be a dotted-quad IPv4 address')
/** Canonical CIDR: host bits clear, prefix 0-30. */
export const subnetSchema = z.string().refine((s) => {
  const c = parseCidr(s)
  return c.ok && c.ip === c.base && c.prefix <= 30
}, 'must be an IPv4 CIDR block with host bits clear and prefix <= 30, e.g. 10.144.0.0/16')

/** Short human reason from a zod error: up to three issues, each `path: message`. */
export function zodReason(format: string, error: z.ZodError): string {
  const parts = error.issues.slice(0, 3).map((i) => {
    const path = i.path.length > 0 ? i.path.map(String).join('.') : '(root)'
    return `${path}: ${i.message}`
  })
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : ''
  return `invalid ${format}: ${parts.join('; ')}${more}`
}

/**
 * Turn arbitrary text (e.g. a hostname) into a valid node/key name: lowercase, runs of other
 * characters become '-', trimmed to 63 characters; `fallback` when nothing usable remains.
 */
export function sanitizeName(text: string, fallback = 'node'): string {
  const s = String(text)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return NAME_RE.test(s) ? s : fallback
}
