/**
 * Join strings, handed from the owner to a new node:
 *
 *   `mlj2_` + base64url( payload ‖ SHA-256(payload)[0..4] )
 *   payload = UTF-8 JSON `{n, k, s, o, b}`
 *
 * The 4-byte checksum catches a string that was changed or cut on its way (a wrong character
 * passes with probability 2^-32); it is not a signature. Every bootstrap address is parsed as a
 * multiaddr this node can dial, ending in `/p2p/<peer id>` so the dial authenticates the peer.
 * `mlj1_` strings (no checksum) are refused with a message saying to ask for a new one.
 */
import { createHash } from 'node:crypto'
import { isIPv6 } from 'node:net'
import { z } from 'zod'
import { ipToUint32 } from './cidr.ts'
import {
  JOIN_STRING_PREFIX as JOIN_STRING_PREFIX_V1,
  MAX_BOOTSTRAP_ADDRS,
  MAX_JOIN_STRING_CHARS,
  MAX_MULTIADDR_CHARS,
  MESH_KEY_SECRET_BYTES,
} from './constants.ts'
import { fromBase64Url, parseJsonBytes, toBase64Url, utf8 } from './encoding.ts'
import { InvalidMessageError } from './errors.ts'
import { isEd25519PeerId, nameSchema, networkIdSchema, peerIdSchema, zodReason } from './fields.ts'
import { fail, ok, type Result } from './result.ts'

/** Prefix of a current join string: version 2 carries a checksum. */
export const JOIN_STRING_PREFIX_V2 = 'mlj2_'
/**
 * Bytes of SHA-256(payload) appended as a checksum: 4 bytes let a changed or cut string through
 * with probability 2^-32 and add only 6 characters.
 */
export const JOIN_CHECKSUM_BYTES = 4

/** What a join string carries. */
export interface JoinInfo {
  networkId: string
  keyName: string
  /** The 32-byte mesh key secret (`deriveMeshKey(secret, networkId)` gives the mesh key). */
  secret: Uint8Array
  ownerPeerId: string
  /** Dialable multiaddrs, each ending in `/p2p/<peer id>`. */
  bootstrap: string[]
  /**
   * The first policy version that holds the key: a newcomer refuses any older policy (a stale copy
   * a revoked member may still hand out). Absent in strings made before it existed.
   */
  minPolicyVersion?: number
}

const secretSchema = z
  .string()
  .refine((s) => fromBase64Url(s)?.length === MESH_KEY_SECRET_BYTES, 'must be base64url of 32 bytes')

const joinJsonSchema = z.object({
  n: networkIdSchema,
  k: nameSchema,
  s: secretSchema,
  o: peerIdSchema,
  b: z.array(z.string()).max(MAX_BOOTSTRAP_ADDRS),
  p: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
})

type Kind = 'ip4' | 'ip6' | 'host' | 'port' | 'none' | 'token' | 'peer'
/** The protocols a bootstrap address may use, and what each one's value must be. */
const PROTOCOLS: Record<string, Kind> = {
  ip4: 'ip4',
  ip6: 'ip6',
  dns: 'host',
  dns4: 'host',
  dns6: 'host',
  tcp: 'port',
  ws: 'none',
  wss: 'none',
  tls: 'none',
  memory: 'token',
  p2p: 'peer',
}
const HOST_RE =
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/
const TOKEN_RE = /^[A-Za-z0-9._~-]{1,128}$/

function valueProblem(kind: Kind, value: string): string | null {
  switch (kind) {
    case 'ip4':
      return ipToUint32(value) >= 0 ? null : `"${value}" is not an IPv4 address`
    case 'ip6':
      return isIPv6(value) ? null : `"${value}" is not an IPv6 address`
    case 'host':
      return HOST_RE.test(value) ? null : `"${value}" is not a host name`
    case 'port': {
      const n = /^\d{1,5}$/.test(value) ? Number(value) : -1
      return n >= 1 && n <= 65535 ? null : `"${value}" is not a port (1-65535)`
    }
    case 'token':
      return TOKEN_RE.test(value) ? null : `"${value}" is not a valid name`
    case 'peer':
      return isEd25519PeerId(value) ? null : `"${value}" is not an Ed25519 peer id`
    case 'none':
      return null
  }
}

/**
 * Parses a bootstrap multiaddr: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/ws|/wss|/tls…]/p2p/<id>`
 * or `/memory/<name>/p2p/<id>` (the in-process test transport). Returns why it is not one.
 */
export function parseBootstrapAddr(text: string): Result<{ address: string; peerId: string }> {
  if (typeof text !== 'string' || text.length === 0) return fail('it is empty')
  if (text.length > MAX_MULTIADDR_CHARS) return fail(`it is longer than ${MAX_MULTIADDR_CHARS} characters`)
  if (!text.startsWith('/')) return fail('it does not start with /')
  const parts = text.slice(1).split('/')
  const names: string[] = []
  let peerId = ''
  for (let i = 0; i < parts.length; ) {
    const name = parts[i++]
    const kind = PROTOCOLS[name]
    if (name === '') return fail('it has an empty component (//)')
    if (kind === undefined) return fail(`it has an unknown or unsupported protocol /${name}`)
    if (kind !== 'none') {
      const value = parts[i++]
      if (value === undefined || value === '') return fail(`/${name} has no value`)
      const bad = valueProblem(kind, value)
      if (bad != null) return fail(`/${name}: ${bad}`)
      if (kind === 'peer') peerId = value
    }
    names.push(name)
  }
  const first = PROTOCOLS[names[0]]
  if (first === 'peer') return fail('it has no network address before /p2p')
  if (names[names.length - 1] !== 'p2p')
    return fail('it does not end in /p2p/<peer id> (the dial could not check who answers)')
  if (names.indexOf('p2p') !== names.length - 1) return fail('it has more than one /p2p')
  if (first === 'token') {
    if (names.length !== 2) return fail('/memory must be followed by /p2p only')
  } else {
    if (first !== 'ip4' && first !== 'ip6' && first !== 'host')
      return fail(`it starts with /${names[0]} instead of /ip4, /ip6, /dns, /dns4 or /dns6`)
    if (names[1] !== 'tcp') return fail(`it has no /tcp/<port> after /${names[0]}`)
    for (const n of names.slice(2, -1))
      if (PROTOCOLS[n] !== 'none') return fail(`it has /${n} where only /ws, /wss or /tls may follow /tcp`)
  }
  return ok({ address: text, peerId })
}

function checksum(payload: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(payload).digest().subarray(0, JOIN_CHECKSUM_BYTES))
}

/**
 * Encode a join string. A bootstrap address without `/p2p/` is the owner's and gets its id.
 * Throws InvalidMessageError when a field is invalid.
 */
export function encodeJoinString(info: JoinInfo): string {
  if (!(info.secret instanceof Uint8Array) || info.secret.length !== MESH_KEY_SECRET_BYTES) {
    throw new InvalidMessageError('join string', `secret must be ${MESH_KEY_SECRET_BYTES} bytes`)
  }
  const bootstrap = info.bootstrap.map((a) =>
    typeof a === 'string' && !a.includes('/p2p/') ? `${a}/p2p/${info.ownerPeerId}` : a,
  )
  const json = {
    n: info.networkId,
    k: info.keyName,
    s: toBase64Url(info.secret),
    o: info.ownerPeerId,
    b: bootstrap,
    ...(info.minPolicyVersion != null ? { p: info.minPolicyVersion } : {}),
  }
  const parsed = joinJsonSchema.safeParse(json)
  if (!parsed.success) throw new InvalidMessageError('join string', zodReason('join string', parsed.error))
  for (const [i, a] of bootstrap.entries()) {
    const r = parseBootstrapAddr(a)
    if (!r.ok)
      throw new InvalidMessageError(
        'join string',
        `bootstrap address ${i + 1} "${short(a)}" is not a multiaddr meshlan can dial: ${r.reason}`,
      )
  }
  const payload = utf8(JSON.stringify(parsed.data))
  const body = new Uint8Array(payload.length + JOIN_CHECKSUM_BYTES)
  body.set(payload, 0)
  body.set(checksum(payload), payload.length)
  const out = JOIN_STRING_PREFIX_V2 + toBase64Url(body)
  if (out.length > MAX_JOIN_STRING_CHARS) {
    throw new InvalidMessageError('join string', `${out.length} characters exceeds ${MAX_JOIN_STRING_CHARS}`)
  }
  return out
}

const short = (a: string): string => (a.length > 80 ? `${a.slice(0, 77)}...` : a)

/** Parse a join string (surrounding whitespace is ignored). Never throws; says what is wrong. */
export function parseJoinString(text: string): Result<JoinInfo> {
  if (typeof text !== 'string') return fail('a join string must be text')
  const s = text.trim()
  if (s.startsWith(JOIN_STRING_PREFIX_V1)) {
    return fail(
      `this join string is of an older format (${JOIN_STRING_PREFIX_V1}, without a checksum): ` +
        'ask the network owner for a new one (`meshlan key create`)',
    )
  }
  if (!s.startsWith(JOIN_STRING_PREFIX_V2))
    return fail(`not a meshlan join string (it should start with ${JOIN_STRING_PREFIX_V2})`)
  if (s.length > MAX_JOIN_STRING_CHARS) {
    return fail(`join string is too long (${s.length} characters, at most ${MAX_JOIN_STRING_CHARS})`)
  }
  const body = fromBase64Url(s.slice(JOIN_STRING_PREFIX_V2.length))
  if (body === null) {
    return fail(
      `join string is damaged: the part after ${JOIN_STRING_PREFIX_V2} is not base64url ` +
        '(was it cut off, re-wrapped or changed?): copy it again',
    )
  }
  const cut = body.length - JOIN_CHECKSUM_BYTES
  const sum = cut > 0 ? checksum(body.subarray(0, cut)) : null
  if (sum === null || sum.some((b, i) => b !== body[cut + i])) {
    return fail('checksum mismatch: the join string was changed or cut — copy it again')
  }
  const json = parseJsonBytes(body.subarray(0, cut))
  if (json === undefined)
    return fail('join string is damaged: its content is not JSON: ask the owner for a new one')
  const parsed = joinJsonSchema.safeParse(json)
  if (!parsed.success) return fail(zodReason('join string', parsed.error))
  const d = parsed.data
  for (const [i, a] of d.b.entries()) {
    const r = parseBootstrapAddr(a)
    if (!r.ok)
      return fail(`bootstrap address ${i + 1} "${short(a)}" is not a multiaddr meshlan can dial: ${r.reason}`)
  }
  return ok({
    networkId: d.n,
    keyName: d.k,
    secret: fromBase64Url(d.s)!,
    ownerPeerId: d.o,
    bootstrap: d.b,
    ...(d.p != null ? { minPolicyVersion: d.p } : {}),
  })
}
