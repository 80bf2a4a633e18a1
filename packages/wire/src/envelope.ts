/**
 * Signed envelopes: UTF-8 JSON `{"p": base64(payload), "s": base64(signature)}`.
 *
 * The payload is UTF-8 JSON of an object with a `type` field. The signature is Ed25519 over
 * `"meshlan/" + type + "/v1\n"` followed by the payload bytes (domain separation: a signature
 * made for one type never verifies as another). Decoding (parse + schema) and verifying (needs the
 * expected public key) are separate steps.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { z } from 'zod'
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  SIGNING_DOMAIN_PREFIX,
  SIGNING_DOMAIN_SUFFIX,
} from './constants.ts'
import { fromBase64, parseJsonBytes, toBase64, utf8 } from './encoding.ts'
import { InvalidMessageError } from './errors.ts'
import { zodReason } from './fields.ts'
import { fail, ok, type Result } from './result.ts'

/** A decoded envelope: the schema-checked body plus the exact bytes the signature covers. */
export interface Signed<T> {
  /** The envelope type (the payload's `type` field). */
  type: string
  /** The payload, validated against the type's schema. */
  body: T
  /** The exact payload bytes (UTF-8 JSON) that were signed. */
  payload: Uint8Array
  /** The 64-byte Ed25519 signature. */
  signature: Uint8Array
  /** The envelope bytes as received (or produced). */
  bytes: Uint8Array
}

/** The bytes an envelope signature covers: `"meshlan/" + type + "/v1\n"` then the payload. */
export function signingBytes(type: string, payload: Uint8Array): Uint8Array {
  const domain = utf8(SIGNING_DOMAIN_PREFIX + type + SIGNING_DOMAIN_SUFFIX)
  const out = new Uint8Array(domain.length + payload.length)
  out.set(domain, 0)
  out.set(payload, domain.length)
  return out
}

/**
 * Validate `body` against `schema`, sign it with `key` and return the envelope bytes.
 * Throws InvalidMessageError when the body does not fit the schema or the envelope exceeds `maxBytes`.
 */
export async function sealEnvelope<S extends z.ZodType<{ type: string }>>(
  type: string,
  schema: S,
  body: z.input<S>,
  key: PrivateKey,
  maxBytes: number,
): Promise<Uint8Array> {
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw new InvalidMessageError(type, zodReason(type, parsed.error))
  if (parsed.data.type !== type) throw new InvalidMessageError(type, `body type is '${parsed.data.type}'`)
  const payload = utf8(JSON.stringify(parsed.data))
  const signature = await key.sign(signingBytes(type, payload))
  const bytes = utf8(JSON.stringify({ p: toBase64(payload), s: toBase64(signature) }))
  if (bytes.length > maxBytes) {
    throw new InvalidMessageError(type, `envelope of ${bytes.length} bytes exceeds the ${maxBytes}-byte cap`)
  }
  return bytes
}

/**
 * Parse envelope bytes, check the payload's `type` and validate it against `schema`.
 * Does NOT verify the signature: call `verifySigned` with the expected key. Never throws.
 */
/**
 * The outer layer of an envelope: size cap, `{"p","s"}`, canonical base64, signature length —
 * everything checkable before the payload is parsed, so a signature can be verified before any
 * schema work is spent on a document nobody trusted signed. Never throws.
 */
export function openOuterEnvelope(
  bytes: Uint8Array,
  type: string,
  maxBytes: number,
): Result<{ payload: Uint8Array; signature: Uint8Array }> {
  if (!(bytes instanceof Uint8Array)) return fail(`${type} envelope must be bytes`)
  if (bytes.length > maxBytes)
    return fail(`${type} envelope of ${bytes.length} bytes exceeds the ${maxBytes}-byte cap`)
  const outer = parseJsonBytes(bytes)
  if (outer === undefined) return fail(`${type} envelope is not UTF-8 JSON`)
  if (typeof outer !== 'object' || outer === null || Array.isArray(outer)) {
    return fail(`${type} envelope is not a JSON object`)
  }
  const { p, s } = outer as { p?: unknown; s?: unknown }
  if (typeof p !== 'string' || typeof s !== 'string')
    return fail(`${type} envelope needs string fields p and s`)
  const payload = fromBase64(p)
  if (payload === null) return fail(`${type} envelope field p is not canonical base64`)
  const signature = fromBase64(s)
  if (signature === null || signature.length !== ED25519_SIGNATURE_BYTES) {
    return fail(`${type} envelope field s is not base64 of a ${ED25519_SIGNATURE_BYTES}-byte signature`)
  }
  return ok({ payload, signature })
}

export function openEnvelope<S extends z.ZodType<{ type: string }>>(
  bytes: Uint8Array,
  type: string,
  schema: S,
  maxBytes: number,
): Result<Signed<z.output<S>>> {
  const outer = openOuterEnvelope(bytes, type, maxBytes)
  if (!outer.ok) return outer
  const { payload, signature } = outer.value
  const json = parseJsonBytes(payload)
  if (json === undefined) return fail(`${type} payload is not UTF-8 JSON`)
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return fail(`${type} payload is not an object`)
  const got = (json as { type?: unknown }).type
  if (got !== type) {
    return fail(
      `expected a '${type}' payload, got ${typeof got === 'string' ? `'${got.slice(0, 32)}'` : 'no type'}`,
    )
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) return fail(zodReason(type, parsed.error))
  return ok({ type, body: parsed.data, payload, signature, bytes })
}

/** Check an envelope's signature against `publicKey`. Never throws; false on any failure. */
export async function verifySigned(
  signed: Pick<Signed<unknown>, 'type' | 'payload' | 'signature'>,
  publicKey: PublicKey,
): Promise<boolean> {
  try {
    if (publicKey.type !== 'Ed25519') return false
    return (await publicKey.verify(signingBytes(signed.type, signed.payload), signed.signature)) === true
  } catch {
    return false
  }
}

/** The Ed25519 public key inside a peer id string. */
export function publicKeyFromPeerId(peerId: string): Result<PublicKey> {
  try {
    const id = peerIdFromString(peerId)
    if (id.type !== 'Ed25519') return fail(`peer id ${peerId.slice(0, 64)} is not an Ed25519 peer id`)
    return ok(id.publicKey)
  } catch {
    return fail(`'${String(peerId).slice(0, 64)}' is not a peer id`)
  }
}

/** An Ed25519 public key from base64 of its 32 raw bytes (the `publicKey` fields of the formats). */
export function publicKeyFromRawBase64(text: string): Result<PublicKey> {
  const raw = fromBase64(text)
  if (raw === null || raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    return fail('public key must be base64 of 32 raw Ed25519 bytes')
  }
  try {
    return ok(publicKeyFromRaw(raw))
  } catch {
    return fail('public key bytes are not a valid Ed25519 key')
  }
}

/** Base64 of a public key's 32 raw bytes, the form the formats store. */
export function publicKeyToRawBase64(key: PublicKey): string {
  return toBase64(key.raw)
}
