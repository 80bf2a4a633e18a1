/**
 * Fuzz targets past the byte parsers: what a member or stranger reaches next. The gate's hello
 * decision (decodeHelloOffer, then PolicyStore.membership as MembershipGate.check calls it), the
 * policy store's `offer` and the record store's `offer` (packages/mesh/src/...). These are async
 * and verify signatures, so the invariants are about acceptance: nothing is accepted that the
 * right key did not sign for this network, and the stores stay within their bounds.
 */
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { MAX_CLOCK_SKEW_MS, MAX_RECORD_AGE_MS, MAX_UNBOUND_PER_KEY } from '../../mesh/src/constants.ts'
import type { Logger } from '../../mesh/src/logger.ts'
import { PolicyStore } from '../../mesh/src/membership/policy-store.ts'
import { RecordStore } from '../../mesh/src/topology/records.ts'
import {
  claimToString,
  decodeClaim,
  decodeHelloOffer,
  decodePolicy,
  decodeRecord,
  encodeClaim,
  encodeHelloOffer,
  MAX_POLICY_MEMBERS,
  signingBytes,
  toBase64,
} from '../src/index.ts'
import { claimFor, type Fixtures, type Identity, identity, recordFor } from './fuzz-fixtures.ts'
import {
  type Case,
  int,
  mutateBytes,
  mutateJson,
  pick,
  type Rand,
  randomBytes,
  randomLength,
  type Target,
  text,
  utf8,
} from './fuzz-kit.ts'
import { wrap } from './fuzz-targets-signed.ts'

const quiet: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  debugEnabled: false,
  child: () => quiet,
}

async function signedEnvelope(
  key: Ed25519PrivateKey,
  type: string,
  payload: Uint8Array,
): Promise<Uint8Array> {
  return wrap(payload, toBase64(await key.sign(signingBytes(type, payload))))
}

async function loadedStore(fx: Fixtures, self: string): Promise<PolicyStore> {
  const store = new PolicyStore({ networkId: fx.networkId, owner: fx.owner.id, self, log: quiet })
  const r = await store.offer(fx.policyBytes)
  if (r !== 'accepted') throw new Error(`fixture policy refused: ${JSON.stringify(r)}`)
  return store
}

// ---------------------------------------------------------------- policy store

interface PolicyMeta {
  store: PolicyStore
  before: number
  /** The payload the owner's key signed for this input (null: the owner signed nothing). */
  ownerSigned: Uint8Array | null
}

export function policyStoreTarget(fx: Fixtures): Target {
  return {
    name: 'policy-store',
    about:
      'PolicyStore.offer (policy from gossip or sync): accepted only if the owner signed exactly these bytes, for this network, newer than held; a refusal leaves the store as it was',
    async setup() {
      const seed = decodePolicy(fx.policyBytes)
      if (!seed.ok) throw new Error(`fixture policy does not decode: ${seed.reason}`)
      const body = JSON.parse(text(seed.value.payload))
      let accepted = 0
      let loaded: PolicyStore | null = null
      return {
        async gen(rand): Promise<Case> {
          // a store already holding version 3 (kept while nothing changes it) or an empty one
          let store: PolicyStore
          if (rand() < 0.3) {
            loaded = loaded?.version === 3 ? loaded : await loadedStore(fx, fx.node.id)
            store = loaded
          } else {
            store = new PolicyStore({
              networkId: fx.networkId,
              owner: fx.owner.id,
              self: fx.node.id,
              log: quiet,
            })
          }
          const meta: PolicyMeta = { store, before: store.version, ownerSigned: null }
          const r = rand()
          if (r < 0.05) return { input: randomBytes(rand, randomLength(rand, 4096)), mode: 'random', meta }
          if (r < 0.25) return { input: mutateBytes(rand, fx.policyBytes), mode: 'bytes', meta }
          if (r < 0.35) {
            const payload = utf8(
              JSON.stringify({ ...body, version: pick(rand, [1, 3, 4, 5, 2 ** 31, 2 ** 53 - 1]) }),
            )
            meta.ownerSigned = payload
            return {
              input: await signedEnvelope(fx.owner.key, 'policy', payload),
              mode: 'owner-version',
              meta,
            }
          }
          const payload = mutateJson(rand, body, 256 * 1024)
          if (r < 0.6)
            return {
              input: wrap(payload, toBase64(new Uint8Array(64).fill(int(rand, 256)))),
              mode: 'json',
              meta,
            }
          if (r < 0.8) {
            const signer = pick(rand, [fx.node.key, fx.other.key, fx.mesh])
            return { input: await signedEnvelope(signer, 'policy', payload), mode: 'not-owner', meta }
          }
          meta.ownerSigned = payload
          return { input: await signedEnvelope(fx.owner.key, 'policy', payload), mode: 'owner-json', meta }
        },
        async run(c) {
          const r = await (c.meta as PolicyMeta).store.offer(c.input)
          if (r === 'accepted') return { ok: true, value: (c.meta as PolicyMeta).store.policy }
          return { ok: false, reason: r === 'stale' ? 'stale' : r.rejected }
        },
        check(c, v) {
          const m = c.meta as PolicyMeta
          if (!v.ok)
            return m.store.version === m.before ? null : `state: refused (${v.reason}) but the store changed`
          accepted++
          const d = decodePolicy(c.input)
          if (!d.ok) return 'accepted-garbage: accepted bytes decodePolicy refuses'
          const signed =
            (m.ownerSigned != null && Buffer.compare(m.ownerSigned, d.value.payload) === 0) ||
            Buffer.compare(seed.value.payload, d.value.payload) === 0
          if (!signed) return 'accepted-garbage: accepted a policy the owner did not sign'
          const p = d.value.body
          if (p.owner !== fx.owner.id || p.networkId !== fx.networkId)
            return 'accepted-garbage: other owner or network'
          if (p.version <= m.before)
            return `accepted-garbage: version ${p.version} not newer than ${m.before}`
          return m.store.version === p.version ? null : 'state: store version is not the accepted one'
        },
        extra: () => ({ acceptedByOwnerKey: accepted }),
      }
    },
  }
}

// ---------------------------------------------------------------- record store

interface RecordMeta {
  signerId: string | null
  signed: Uint8Array | null
}

export function recordStoreTarget(fx: Fixtures): Target {
  return {
    name: 'record-store',
    about:
      'RecordStore.offer (records from gossip or sync) on one long-lived store: accepted only if signed by the node it names, a member now, seq newer, ts not ahead of the skew nor older than MAX_RECORD_AGE_MS; ≤ MAX_UNBOUND_PER_KEY unbound per key',
    async setup() {
      const store = await loadedStore(fx, fx.other.id)
      const records = new RecordStore(fx.other.id, store, quiet)
      // more would-be members than the unbound cap, each with a valid claim of the reusable key
      const pool: Identity[] = await Promise.all(
        Array.from({ length: MAX_UNBOUND_PER_KEY + 8 }, (_, k) => identity(10 + k)),
      )
      const everyone = [...pool, fx.node, fx.owner, fx.revokedNode]
      const claims = new Map<string, string>()
      for (const p of [...pool, fx.revokedNode])
        claims.set(p.id, claimToString(await encodeClaim(claimFor(fx, p.id, 'laptop', fx.mesh), fx.mesh)))
      claims.set(fx.node.id, claimToString(fx.claim))
      const foreignClaim = claimToString(fx.claims[2])
      const seqs = new Map<string, number>()
      const lastAccepted = new Map<string, number>()
      let maxUnbound = 0
      let maxSize = 0
      return {
        async gen(rand): Promise<Case> {
          const who = pick(rand, everyone)
          const n = everyone.indexOf(who)
          const claim =
            who === fx.owner
              ? null
              : pick(rand, [
                  claims.get(who.id) as string,
                  claims.get(who.id) as string,
                  claims.get(pick(rand, pool).id) as string,
                  foreignClaim,
                  null,
                ])
          const seq = (seqs.get(who.id) ?? fx.now) + (rand() < 0.8 ? 1 + int(rand, 1000) : -int(rand, 10))
          seqs.set(who.id, Math.max(seq, seqs.get(who.id) ?? 0))
          const rec = {
            ...recordFor(fx, who.id, claim, n),
            seq,
            ts:
              fx.now +
              pick(rand, [
                0,
                0,
                0,
                1000,
                -MAX_CLOCK_SKEW_MS - 1,
                MAX_CLOCK_SKEW_MS + 1,
                MAX_CLOCK_SKEW_MS,
                -MAX_RECORD_AGE_MS,
                -MAX_RECORD_AGE_MS - 1,
              ]),
          }
          const r = rand()
          const payload = r < 0.3 ? mutateJson(rand, rec, 16 * 1024) : utf8(JSON.stringify(rec))
          if (r < 0.03)
            return {
              input: randomBytes(rand, randomLength(rand, 4096)),
              mode: 'random',
              meta: { signerId: null, signed: null },
            }
          const signer = rand() < 0.9 ? who : pick(rand, everyone)
          const env = await signedEnvelope(signer.key, 'record', payload)
          if (r > 0.9)
            return {
              input: mutateBytes(rand, env),
              mode: 'bytes',
              meta: { signerId: signer.id, signed: payload },
            }
          return {
            input: env,
            mode: r < 0.3 ? 'json' : signer === who ? 'signed' : 'wrong-signer',
            meta: { signerId: signer.id, signed: payload },
          }
        },
        run: async (c) => {
          const r = await records.offer(c.input, fx.now)
          return r === 'accepted'
            ? { ok: true, value: null }
            : { ok: false, reason: r === 'stale' ? 'stale' : r.rejected }
        },
        check(c, v) {
          const all = records.all()
          maxSize = Math.max(maxSize, all.length)
          const unbound = new Map<string, number>()
          for (const k of all)
            if (k.membership.binding == null)
              unbound.set(k.membership.keyName, (unbound.get(k.membership.keyName) ?? 0) + 1)
          for (const [key, count] of unbound) {
            maxUnbound = Math.max(maxUnbound, count)
            if (count > MAX_UNBOUND_PER_KEY) return `unbounded: ${count} unbound members of key ${key}`
          }
          if (all.length > MAX_POLICY_MEMBERS + 256) return `unbounded: ${all.length} records`
          if (!v.ok) return null
          const m = c.meta as RecordMeta
          const d = decodeRecord(c.input)
          if (!d.ok) return 'accepted-garbage: accepted bytes decodeRecord refuses'
          const r = d.value.body
          if (m.signed == null || m.signerId !== r.peerId || Buffer.compare(m.signed, d.value.payload) !== 0)
            return 'accepted-garbage: accepted a record its node did not sign'
          if (r.ts - fx.now > MAX_CLOCK_SKEW_MS) return 'accepted-garbage: timestamp ahead of the skew'
          if (fx.now - r.ts > MAX_RECORD_AGE_MS) return 'accepted-garbage: a record older than any node keeps'
          if (r.seq <= (lastAccepted.get(r.peerId) ?? -1))
            return `replay: seq ${r.seq} accepted after ${lastAccepted.get(r.peerId)}`
          lastAccepted.set(r.peerId, r.seq)
          if (r.peerId === fx.revokedNode.id) return 'accepted-garbage: record of a revoked node'
          if (r.peerId !== fx.owner.id) {
            const cl = r.claim == null ? null : decodeClaim(Buffer.from(r.claim, 'base64'))
            if (
              cl == null ||
              !cl.ok ||
              cl.value.body.peerId !== r.peerId ||
              cl.value.body.keyName !== 'laptop'
            )
              return 'accepted-garbage: record without its own claim of a live key'
          }
          return null
        },
        extra: () => ({ maxRecords: maxSize, maxUnboundPerKey: maxUnbound }),
      }
    },
  }
}

// ---------------------------------------------------------------- the gate's hello

interface HelloMeta {
  peer: string
  /** The claim payload the mesh key (of the live key `laptop`) signed, if any. */
  meshSigned: Uint8Array | null
}

export function gateHelloTarget(fx: Fixtures): Target {
  return {
    name: 'gate-hello',
    about:
      'decodeHelloOffer then PolicyStore.membership, as MembershipGate.check runs them for a stranger: admitted only the owner by id, or a peer with its own claim signed by a live key',
    async setup() {
      const store = await loadedStore(fx, fx.other.id)
      const peers = [fx.node, fx.other, fx.owner, fx.revokedNode, await identity(99)]
      const claimBody = fx.claimBody
      const known = new Map<string, Uint8Array>() // claim bytes → payload, for the fixture claims signed by `laptop`
      for (const c of [fx.claims[0], fx.claims[1], fx.claims[3]]) {
        const d = decodeClaim(c)
        if (d.ok) known.set(Buffer.from(c).toString('base64'), d.value.payload)
      }
      let admitted = 0
      return {
        async gen(rand: Rand): Promise<Case> {
          const peer = pick(rand, peers).id
          const r = rand()
          const meta: HelloMeta = { peer, meshSigned: null }
          if (r < 0.05) return { input: randomBytes(rand, randomLength(rand, 2200)), mode: 'random', meta }
          if (r < 0.15) return { input: encodeHelloOffer({ kind: 'owner' }), mode: 'owner', meta }
          if (r < 0.4) {
            const claim = pick(rand, fx.claims)
            meta.meshSigned = known.get(Buffer.from(claim).toString('base64')) ?? null
            return { input: encodeHelloOffer({ kind: 'claim', claim }), mode: 'claim', meta }
          }
          if (r < 0.6)
            return {
              input: mutateBytes(rand, encodeHelloOffer({ kind: 'claim', claim: pick(rand, fx.claims) })),
              mode: 'bytes',
              meta,
            }
          const payload = mutateJson(rand, { ...claimBody, peerId: peer }, 2048)
          const key = rand() < 0.8 ? fx.mesh : pick(rand, [fx.meshRevoked, fx.node.key])
          if (key === fx.mesh) meta.meshSigned = payload
          const claim = await signedEnvelope(key, 'claim', payload)
          if (claim.length + 2 > 2112) return { input: claim.subarray(0, 16), mode: 'json', meta }
          return { input: encodeHelloOffer({ kind: 'claim', claim }), mode: 'json', meta }
        },
        async run(c) {
          const m = c.meta as HelloMeta
          const offer = decodeHelloOffer(c.input)
          if (!offer.ok) return offer
          const p = offer.value
          if (p.kind === 'owner' && m.peer !== store.owner) return { ok: false, reason: 'not the owner' }
          const claim = p.kind === 'claim' ? claimToString(p.claim) : null
          return store.membership(m.peer, claim, fx.now)
        },
        check(c, v) {
          if (!v.ok) return null
          admitted++
          const m = c.meta as HelloMeta
          const offer = decodeHelloOffer(c.input)
          if (!offer.ok) return 'accepted-garbage: admitted on a malformed hello'
          if (m.peer === fx.revokedNode.id) return 'accepted-garbage: admitted a revoked node'
          if (offer.value.kind === 'owner')
            return m.peer === fx.owner.id ? null : 'accepted-garbage: admitted a non-owner as owner'
          if (m.peer === fx.owner.id) return null
          const d = decodeClaim(offer.value.claim)
          if (!d.ok) return 'accepted-garbage: admitted with a claim decodeClaim refuses'
          const signed =
            (m.meshSigned != null && Buffer.compare(m.meshSigned, d.value.payload) === 0) ||
            [...known.values()].some((p) => Buffer.compare(p, d.value.payload) === 0)
          if (!signed) return 'accepted-garbage: admitted with a claim the live key did not sign'
          const b = d.value.body
          if (b.peerId !== m.peer) return 'accepted-garbage: admitted with another peer’s claim'
          if (b.networkId !== fx.networkId || b.keyName !== 'laptop')
            return 'accepted-garbage: claim for another network or key'
          return null
        },
        extra: () => ({ admitted }),
      }
    },
  }
}
