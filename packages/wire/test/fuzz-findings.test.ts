/**
 * Findings of bench/fuzz-all.ts, each as the smallest test that shows it; both are fixed (policy
 * signature verified before the schema: `decodeOwnerPolicy`; ACL content bounded: `aclSchema`),
 * and the tests now guard the fixes.
 *
 * 1. PolicyStore.offer (packages/mesh/src/membership/policy-store.ts) runs the full policy schema
 *    before it checks the owner's signature. The schema calls peerIdFromString for every peer id
 *    in the document, so a ~228 KB "policy" with ~1,850 revokedNodes costs 100–370 ms of event loop
 *    (fuzz-all: policy input slow every time). Any admitted member reaches offer() on every node
 *    by publishing on the policy gossip topic (the validator calls offer) or answering a sync, and
 *    no signature of the owner is needed to make every node pay. The owner is known before any
 *    byte arrives, so the signature (one Ed25519 verify, ~0.3 ms) can be checked first; then only
 *    the owner's own documents ever reach the schema.
 * 2. (low: only the owner can sign a policy) decodePolicy accepts ACL content that is not JSON
 *    data: `aclSchema` is `{ rules: unknown[] }`, so `1e999` parses to Infinity (re-encoded as
 *    null) and 20,000-deep nesting parses but overflows the stack on JSON.stringify — the decoded
 *    policy does not re-encode to itself. Validating `rules` with the ACL schema (or bounding depth
 *    and requiring finite numbers) at decode would close it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Logger } from '../../mesh/src/logger.ts'
import { PolicyStore } from '../../mesh/src/membership/policy-store.ts'
import { fixtures } from '../bench/fuzz-fixtures.ts'
import { decodePolicy, signingBytes, toBase64 } from '../src/index.ts'

const quiet: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  debugEnabled: false,
  child: () => quiet,
}

describe('fuzz findings', () => {
  it('PolicyStore.offer checks the owner signature before the schema (a member cannot buy schema work)', async (t) => {
    const fx = await fixtures()
    const store = new PolicyStore({
      networkId: fx.networkId,
      owner: fx.owner.id,
      self: fx.node.id,
      log: quiet,
    })
    // a member's forgery: the real policy with 1,800 revoked nodes (each a valid peer id the schema
    // parses) and one bad entry at the end, signed by the member's own key, not the owner's
    const revokedNodes: unknown[] = Array.from({ length: 1800 }, () => ({
      peerId: fx.other.id,
      revokedAt: 1,
    }))
    revokedNodes.push(null)
    const payload = new TextEncoder().encode(JSON.stringify({ ...fx.policy, version: 4, revokedNodes }))
    const sig = await fx.node.key.sign(signingBytes('policy', payload))
    const envelope = new TextEncoder().encode(JSON.stringify({ p: toBase64(payload), s: toBase64(sig) }))
    assert.ok(envelope.length < 256 * 1024, 'within MAX_POLICY_BYTES: the size cap does not stop it')

    const t0 = performance.now()
    const r = await store.offer(envelope)
    t.diagnostic(
      `offer took ${(performance.now() - t0).toFixed(1)} ms for ${envelope.length} bytes: ${JSON.stringify(r).slice(0, 120)}`,
    )
    assert.equal(store.version, 0)
    // refused for the signature, which means the schema never ran on a stranger's document
    assert.deepEqual(r, { rejected: 'policy is signed by neither the owner nor a delegated admin' })
  })

  it('decodePolicy accepts only ACL content that re-encodes to itself (finite numbers, bounded depth)', async () => {
    const fx = await fixtures()
    const key = fx.policy.keys[0]
    for (const rule of ['{"to":["*"],"ports":[1e999]}', `${'['.repeat(20_000)}${']'.repeat(20_000)}`]) {
      const json = JSON.stringify({ ...fx.policy, keys: [{ ...key, acl: { rules: ['__RULE__'] } }] })
      const payload = new TextEncoder().encode(json.replace('"__RULE__"', rule))
      const sig = await fx.owner.key.sign(signingBytes('policy', payload))
      const env = new TextEncoder().encode(JSON.stringify({ p: toBase64(payload), s: toBase64(sig) }))
      const d = decodePolicy(env)
      if (!d.ok) continue // refused at decode: the finding is fixed for this input
      let again: string | null = null
      try {
        again = JSON.stringify(d.value.body.keys[0].acl.rules)
      } catch {}
      assert.equal(
        again,
        JSON.stringify(JSON.parse(new TextDecoder().decode(payload)).keys[0].acl.rules),
        `rule ${rule.slice(0, 40)}`,
      )
    }
  })
})
