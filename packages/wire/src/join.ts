/**
 * Join strings: `mlj1_` + base64url(JSON `{n, k, s, o, b}`), handed from the owner to a new node.
 */
import { z } from 'zod'
import {
  JOIN_STRING_PREFIX,
  MAX_BOOTSTRAP_ADDRS,
  MAX_JOIN_STRING_CHARS,
  MESH_KEY_SECRET_BYTES,
} from './constants.ts'
import { fromBase64Url, parseJsonBytes, toBase64Url, utf8 } from './encoding.ts'
import { InvalidMessageError } from './errors.ts'
import { multiaddrSchema, nameSchema, networkIdSchema, peerIdSchema, zodReason } from './fields.ts'
import { fail, ok, type Result } from './result.ts'

/** What a join string carries. */
export interface JoinInfo {
  networkId: string
  keyName: string
  /** The 32-byte mesh key secret (`deriveMeshKey(secret, networkId)` gives the mesh key). */
  secret: Uint8Array
  ownerPeerId: string
  bootstrap: string[]
}

const secretSchema = z
  .string()
  .refine((s) => fromBase64Url(s)?.length === MESH_KEY_SECRET_BYTES, 'must be base64url of 32 bytes')

const joinJsonSchema = z.object({
  n: networkIdSchema,
  k: nameSchema,
  s: secretSchema,
  o: peerIdSchema,
  b: z.array(multiaddrSchema).max(MAX_BOOTSTRAP_ADDRS),
})

/** Encode a join string. Throws InvalidMessageError when a field is invalid. */
export function encodeJoinString(info: JoinInfo): string {
  if (!(info.secret instanceof Uint8Array) || info.secret.length !== MESH_KEY_SECRET_BYTES) {
    throw new InvalidMessageError('join string', `secret must be ${MESH_KEY_SECRET_BYTES} bytes`)
  }
  const json = {
    n: info.networkId,
    k: info.keyName,
    s: toBase64Url(info.secret),
    o: info.ownerPeerId,
    b: info.bootstrap,
  }
  const parsed = joinJsonSchema.safeParse(json)
  if (!parsed.success) throw new InvalidMessageError('join string', zodReason('join string', parsed.error))
  const out = JOIN_STRING_PREFIX + toBase64Url(utf8(JSON.stringify(parsed.data)))
  if (out.length > MAX_JOIN_STRING_CHARS) {
    throw new InvalidMessageError('join string', `${out.length} characters exceeds ${MAX_JOIN_STRING_CHARS}`)
  }
  return out
}

/** Parse a join string (surrounding whitespace is ignored). Never throws. */
export function parseJoinString(text: string): Result<JoinInfo> {
  if (typeof text !== 'string') return fail('a join string must be text')
  const s = text.trim()
  if (!s.startsWith(JOIN_STRING_PREFIX)) return fail('not a meshlan join string (it should start with mlj1_)')
  if (s.length > MAX_JOIN_STRING_CHARS) {
    return fail(`join string is too long (${s.length} characters, at most ${MAX_JOIN_STRING_CHARS})`)
  }
  const bytes = fromBase64Url(s.slice(JOIN_STRING_PREFIX.length))
  if (bytes === null) {
    return fail(
      'join string is damaged: the part after mlj1_ is not base64url (was it cut off or re-wrapped?)',
    )
  }
  const json = parseJsonBytes(bytes)
  if (json === undefined)
    return fail('join string is damaged: its content is not JSON (was it copied completely?)')
  const parsed = joinJsonSchema.safeParse(json)
  if (!parsed.success) return fail(zodReason('join string', parsed.error))
  const d = parsed.data
  return ok({
    networkId: d.n,
    keyName: d.k,
    secret: fromBase64Url(d.s)!,
    ownerPeerId: d.o,
    bootstrap: d.b,
  })
}
