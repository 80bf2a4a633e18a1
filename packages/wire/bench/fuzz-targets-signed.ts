/**
 * Fuzz targets for the JSON formats: signed envelopes (claim, record, policy), join strings, and
 * sync v2 requests and responses (packages/mesh/src/topology/sync.ts).
 *
 * Envelope inputs are made four ways: random bytes, byte mutations of a valid envelope, the
 * payload's JSON mutated and re-wrapped with the old signature, and the payload mutated and
 * signed again with the real key — the last reaches every schema rule, as a member signing its own
 * garbage would.
 */
import { createHash } from 'node:crypto'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import {
  encodeSyncRequest,
  encodeSyncResponse,
  MAX_SYNC_MESSAGE,
  MAX_SYNC_REQUEST,
  parseSyncRequest,
  parseSyncResponse,
  type SyncResponse,
} from '../../mesh/src/topology/sync.ts'
import {
  decodeClaim,
  decodePolicy,
  decodeRecord,
  encodeJoinString,
  fromBase64,
  fromBase64Url,
  type JoinInfo,
  MAX_CLAIM_BYTES,
  MAX_JOIN_STRING_CHARS,
  MAX_POLICY_BYTES,
  MAX_RECORD_BYTES,
  parseJoinString,
  type Result,
  type Signed,
  signingBytes,
  toBase64,
  toBase64Url,
  verifySigned,
} from '../src/index.ts'
import type { Fixtures } from './fuzz-fixtures.ts'
import {
  type Case,
  int,
  mutateBytes,
  mutateJson,
  pick,
  type Rand,
  randomBytes,
  randomLength,
  same,
  type Target,
  text,
  utf8,
} from './fuzz-kit.ts'

interface EnvelopeMeta {
  /** The payload and signature this input was made from (when the generator knows them). */
  payload: Uint8Array | null
  sig: string | null
}

const ZERO_SIG = toBase64(new Uint8Array(64))

/** Envelope bytes `{p, s}` around `payload` (the format sealEnvelope makes). */
export function wrap(payload: Uint8Array, sig: string): Uint8Array {
  return utf8(JSON.stringify({ p: toBase64(payload), s: sig }))
}

async function sign(key: PrivateKey, type: string, payload: Uint8Array): Promise<string> {
  return toBase64(await key.sign(signingBytes(type, payload)))
}

interface Seed {
  bytes: Uint8Array
  payload: Uint8Array
  sig: string
  body: unknown
}

function seedOf(bytes: Uint8Array): Seed {
  const env = JSON.parse(text(bytes)) as { p: string; s: string }
  const payload = fromBase64(env.p) as Uint8Array
  return { bytes, payload, sig: env.s, body: JSON.parse(text(payload)) }
}

/** Inputs for an envelope parser; `signer` re-signs mutated payloads as their holder could. */
export async function genEnvelope(
  rand: Rand,
  type: string,
  seeds: Seed[],
  signer: PrivateKey,
  cap: number,
): Promise<Case<Uint8Array>> {
  const seed = pick(rand, seeds)
  const r = rand()
  const none: EnvelopeMeta = { payload: null, sig: null }
  if (r < 0.05) return { input: randomBytes(rand, randomLength(rand, cap)), mode: 'random', meta: none }
  if (r < 0.1) return { input: seed.bytes, mode: 'valid', meta: { payload: seed.payload, sig: seed.sig } }
  if (r < 0.3) return { input: mutateBytes(rand, seed.bytes, undefined, cap + 64), mode: 'bytes', meta: none }
  if (r < 0.4) {
    // the outer object: p and s of the wrong type, extra fields, non-canonical base64
    const outer = { p: toBase64(seed.payload), s: seed.sig }
    return { input: mutateJson(rand, outer), mode: 'outer', meta: { payload: seed.payload, sig: seed.sig } }
  }
  const payload = mutateJson(rand, seed.body, cap)
  if (r < 0.72) return { input: wrap(payload, seed.sig), mode: 'json', meta: none }
  const sig = await sign(signer, type, payload)
  return { input: wrap(payload, sig), mode: 'resigned', meta: { payload, sig } }
}

/** Verify only a sample of accepted inputs: Ed25519 costs ~0.3 ms, the parser a few µs. */
const VERIFY_EVERY = 16

function envelopeTarget(
  name: 'claim' | 'record' | 'policy',
  decode: (b: Uint8Array) => Result<Signed<unknown>>,
  cap: number,
  seedBytes: (fx: Fixtures) => Uint8Array[],
  signerOf: (fx: Fixtures) => { sign: PrivateKey; verify: PublicKey },
  fx: Fixtures,
): Target {
  return {
    name,
    about: `decode${name[0].toUpperCase()}${name.slice(1)} (${name} envelopes): a value or a reason; the payload is exactly the signed bytes (sampled verify: valid iff made by the key); the body re-encodes to itself`,
    async setup() {
      const seeds = seedBytes(fx).map(seedOf)
      const keys = signerOf(fx)
      let verified = 0
      let accepted = 0
      return {
        gen: (rand) => genEnvelope(rand, name, seeds, keys.sign, cap),
        run: (c) => decode(c.input),
        async check(c, v) {
          if (!v.ok) return null
          const s = v.value as Signed<unknown>
          accepted++
          if (s.type !== name) return `type: accepted a ${s.type} as ${name}`
          if (c.input.length > cap) return `unbounded: accepted ${c.input.length} bytes over the ${cap} cap`
          // the body is what the signed payload says, nothing else
          const re = decode(wrap(s.payload, toBase64(s.signature)))
          if (!re.ok || !same(re.value.body, s.body))
            return 'payload: body does not follow from the signed payload'
          let json: string
          try {
            json = JSON.stringify(s.body)
          } catch (err) {
            return `reencode-throws: an accepted body cannot be encoded again (${(err as Error).message})`
          }
          const again = wrap(utf8(json), ZERO_SIG)
          const d = decode(again)
          if (!d.ok) return `roundtrip: re-encoded body refused (${d.reason.slice(0, 120)})`
          if (!same(d.value.body, s.body)) return 'roundtrip: body changed on re-encode'
          if (again.length > cap) return `reencode-over-cap: ${again.length} bytes`
          if (accepted % VERIFY_EVERY === 0) {
            verified++
            const m = c.meta as EnvelopeMeta
            const known =
              (m.payload != null &&
                Buffer.compare(m.payload, s.payload) === 0 &&
                m.sig === toBase64(s.signature)) ||
              seeds.some((x) => x.sig === toBase64(s.signature) && Buffer.compare(x.payload, s.payload) === 0)
            const ok = await verifySigned(s, keys.verify)
            if (ok !== known)
              return `signature: verify says ${ok}, the input was ${known ? '' : 'not '}signed by the key`
          }
          return null
        },
        extra: () => ({ verified }),
      }
    },
  }
}

export const claimTarget = (fx: Fixtures): Target =>
  envelopeTarget(
    'claim',
    decodeClaim,
    MAX_CLAIM_BYTES,
    (f) => [f.claims[0], f.claims[1], f.claims[3]],
    (f) => ({ sign: f.mesh, verify: f.mesh.publicKey }),
    fx,
  )

export const recordTarget = (fx: Fixtures): Target =>
  envelopeTarget(
    'record',
    decodeRecord,
    MAX_RECORD_BYTES,
    (f) => f.recordBytes.slice(0, 1),
    (f) => ({ sign: f.node.key, verify: f.node.key.publicKey }),
    fx,
  )

export const policyTarget = (fx: Fixtures): Target =>
  envelopeTarget(
    'policy',
    decodePolicy,
    MAX_POLICY_BYTES,
    (f) => [f.policyBytes],
    (f) => ({ sign: f.owner.key, verify: f.owner.key.publicKey }),
    fx,
  )

// ---------------------------------------------------------------- join strings

function checksummed(payload: Uint8Array): string {
  const sum = createHash('sha256').update(payload).digest().subarray(0, 4)
  return `mlj2_${toBase64Url(Buffer.concat([payload, sum]))}`
}

export function joinTarget(fx: Fixtures): Target<string> {
  return {
    name: 'join',
    about:
      'parseJoinString (local input, pasted by a user): a value or a reason; an accepted string encodes and parses to itself',
    async setup() {
      const bodies = fx.joins.map((j) => {
        const b = fromBase64Url(j.slice(5)) as Uint8Array
        return JSON.parse(text(b.subarray(0, b.length - 4)))
      })
      return {
        gen(rand) {
          const r = rand()
          const k = int(rand, fx.joins.length)
          if (r < 0.05) return { input: text(randomBytes(rand, randomLength(rand, 300))), mode: 'random' }
          if (r < 0.1) return { input: fx.joins[k], mode: 'valid' }
          if (r < 0.35)
            return {
              input: text(mutateBytes(rand, utf8(fx.joins[k]), undefined, MAX_JOIN_STRING_CHARS + 16)),
              mode: 'bytes',
            }
          const payload = mutateJson(rand, bodies[k], MAX_JOIN_STRING_CHARS)
          // the checksum made for the mutated payload: the parser's every later rule is reached
          if (r < 0.9) return { input: checksummed(payload), mode: 'json' }
          return {
            input: `mlj2_${toBase64Url(Buffer.concat([payload, randomBytes(rand, 4)]))}`,
            mode: 'bad-checksum',
          }
        },
        run: (c) => parseJoinString(c.input),
        check(c, v) {
          if (!v.ok) return null
          const info = v.value as JoinInfo
          if (info.secret.length !== 32) return 'secret: not 32 bytes'
          let again: string
          try {
            again = encodeJoinString(info)
          } catch (err) {
            return `reencode-throws: ${(err as Error).message.slice(0, 160)}`
          }
          const d = parseJoinString(again)
          if (!d.ok) return `roundtrip: re-encoded join string refused (${d.reason})`
          if (c.input.trim().length > MAX_JOIN_STRING_CHARS) return 'unbounded: accepted an over-long string'
          return same(d.value, info) ? null : 'roundtrip: join info changed on re-encode'
        },
      }
    },
  }
}

// ---------------------------------------------------------------- sync v2

export function syncRequestTarget(fx: Fixtures): Target {
  return {
    name: 'sync-request',
    about:
      'parseSyncRequest (what an admitted member asks, ≤ 256 KiB): a value or a reason; an accepted request encodes and parses to itself',
    async setup() {
      const seeds = [
        encodeSyncRequest({
          record: fx.recordBytes[0],
          have: { [fx.node.id]: 5, [fx.owner.id]: 1_700_000_000_000 },
        }),
        encodeSyncRequest({ record: null, have: {} }),
      ]
      const objects = seeds.map((s) => JSON.parse(text(s)))
      // digests as large as the length prefix allows (the server reads at most MAX_SYNC_REQUEST)
      const big = [100, 1000, 4000].map((n) => {
        const have: Record<string, number> = {}
        for (let j = 0; j < n; j++) have[`12D3KooW${j.toString(36).padStart(44, 'x')}`] = j
        return encodeSyncRequest({ record: fx.recordBytes[0], have }).subarray(0, MAX_SYNC_REQUEST)
      })
      return {
        gen(rand) {
          const r = rand()
          const k = int(rand, seeds.length)
          if (r < 0.05) return { input: randomBytes(rand, randomLength(rand, 4096)), mode: 'random' }
          if (r < 0.1) return { input: seeds[k], mode: 'valid' }
          if (r < 0.35)
            return { input: mutateBytes(rand, seeds[k], undefined, MAX_SYNC_REQUEST), mode: 'bytes' }
          if (r < 0.4) return { input: pick(rand, big), mode: 'big' }
          return {
            input: mutateJson(rand, objects[k], MAX_SYNC_REQUEST).subarray(0, MAX_SYNC_REQUEST),
            mode: 'json',
          }
        },
        run: (c) => parseSyncRequest(c.input),
        check(_c, v) {
          if (!v.ok) return null
          const req = v.value as Parameters<typeof encodeSyncRequest>[0]
          const d = parseSyncRequest(encodeSyncRequest(req))
          return d.ok && same(d.value, req) ? null : 'roundtrip: sync request changed on re-encode'
        },
      }
    },
  }
}

export function syncResponseTarget(fx: Fixtures): Target {
  return {
    name: 'sync-response',
    about:
      'parseSyncResponse (what a bootstrap peer or member answers, ≤ 4 MiB): a value or a reason; an accepted response encodes and parses to itself',
    async setup() {
      const seeds = [
        encodeSyncResponse({ ok: true, policy: fx.policyBytes, records: fx.recordBytes }),
        encodeSyncResponse({ ok: false, reason: 'this node has no policy yet' }),
      ]
      const objects = seeds.map((s) => JSON.parse(text(s)))
      return {
        gen(rand) {
          const r = rand()
          const k = int(rand, seeds.length)
          if (r < 0.05) return { input: randomBytes(rand, randomLength(rand, 4096)), mode: 'random' }
          if (r < 0.1) return { input: seeds[k], mode: 'valid' }
          if (r < 0.4)
            return { input: mutateBytes(rand, seeds[k], undefined, MAX_SYNC_MESSAGE), mode: 'bytes' }
          return {
            input: mutateJson(rand, objects[k], MAX_SYNC_MESSAGE).subarray(0, MAX_SYNC_MESSAGE),
            mode: 'json',
          }
        },
        run: (c) => parseSyncResponse(c.input),
        check(_c, v) {
          if (!v.ok) return null
          const res = v.value as SyncResponse
          const d = parseSyncResponse(encodeSyncResponse(res))
          return d.ok && same(d.value, res) ? null : 'roundtrip: sync response changed on re-encode'
        },
        sizeFactor: 4,
      }
    },
  }
}
