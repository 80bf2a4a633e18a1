import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { z } from 'zod'
import {
  claimToString,
  decodeClaim,
  decodeClaimString,
  decodePolicy,
  decodeRecord,
  encodeClaim,
  encodePolicy,
  encodeRecord,
  InvalidMessageError,
  MAX_RECORD_BYTES,
  openEnvelope,
  type Policy,
  policySchema,
  publicKeyFromPeerId,
  publicKeyFromRawBase64,
  RECORD_TYPE,
  sealEnvelope,
  signingBytes,
  toBase64,
  verifyClaim,
  verifyPolicy,
  verifyRecord,
  verifySigned,
} from '../src/index.ts'
import { sampleClaim, samplePolicy, sampleRecord, type World, world } from './fixtures.ts'

let w: World
before(async () => {
  w = await world()
})

function envelopeOf(bytes: Uint8Array): { p: string; s: string } {
  return JSON.parse(new TextDecoder().decode(bytes))
}

function rewrap(p: Uint8Array, s: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ p: toBase64(p), s }))
}

describe('signed formats', () => {
  it('policy round trip, signed by the owner', async () => {
    const policy = samplePolicy(w)
    const bytes = await encodePolicy(policy, w.owner)
    const d = decodePolicy(bytes)
    assert.ok(d.ok, !d.ok ? d.reason : '')
    assert.deepEqual(d.value.body, policy)
    assert.equal(d.value.body.keys[0].acl.extra, true) // ACL kept as a loose object
    const owner = publicKeyFromPeerId(d.value.body.owner)
    assert.ok(owner.ok)
    assert.equal(await verifyPolicy(d.value, owner.value), true)
    assert.equal(await verifyPolicy(d.value, w.node.publicKey), false)
  })

  it('claim round trip, signed by the mesh key, and as a record field', async () => {
    const bytes = await encodeClaim(sampleClaim(w), w.mesh)
    const d = decodeClaim(bytes)
    assert.ok(d.ok)
    const meshPub = publicKeyFromRawBase64(d.value.body.keyPublicKey)
    assert.ok(meshPub.ok)
    assert.equal(await verifyClaim(d.value, meshPub.value), true)
    assert.equal(await verifyClaim(d.value, w.owner.publicKey), false)
    const again = decodeClaimString(claimToString(bytes))
    assert.ok(again.ok && again.value.body.peerId === w.nodeId)
    assert.equal(decodeClaimString('not base64!').ok, false)
  })

  it('record round trip, signed by the node key', async () => {
    const claim = claimToString(await encodeClaim(sampleClaim(w), w.mesh))
    const record = sampleRecord(w, claim)
    const bytes = await encodeRecord(record, w.node)
    const d = decodeRecord(bytes)
    assert.ok(d.ok, !d.ok ? d.reason : '')
    assert.deepEqual(d.value.body, record)
    const pub = publicKeyFromPeerId(d.value.body.peerId)
    assert.ok(pub.ok)
    assert.equal(await verifyRecord(d.value, pub.value), true)
    assert.equal(await verifyRecord(d.value, w.owner.publicKey), false)
    const owners = await encodeRecord({ ...record, peerId: w.ownerId, claim: null }, w.owner)
    assert.ok(decodeRecord(owners).ok)
  })

  it('a record from a newer node (a field this version does not know) decodes and verifies', async () => {
    // what a later meshlan might send: signed over a payload with a field we have never heard of
    const record = { ...sampleRecord(w, null), version: '9.0.0', future: { anything: [1, 2] } }
    const payload = new TextEncoder().encode(JSON.stringify(record))
    const signature = await w.node.sign(signingBytes(RECORD_TYPE, payload))
    const bytes = new TextEncoder().encode(
      JSON.stringify({
        p: Buffer.from(payload).toString('base64'),
        s: Buffer.from(signature).toString('base64'),
      }),
    )
    const d = decodeRecord(bytes)
    assert.ok(d.ok, !d.ok ? d.reason : '')
    assert.equal(d.value.body.version, '9.0.0')
    assert.equal('future' in d.value.body, false, 'unknown fields are dropped, not refused')
    assert.equal(
      await verifyRecord(d.value, w.node.publicKey),
      true,
      'the signature covers the bytes as sent',
    )
  })

  it('any tampered byte fails decode or verify', async () => {
    const cases: [Uint8Array, (b: Uint8Array) => Promise<boolean>][] = [
      [
        await encodeClaim(sampleClaim(w), w.mesh),
        async (b) => {
          const d = decodeClaim(b)
          return d.ok && (await verifyClaim(d.value, w.mesh.publicKey))
        },
      ],
      [
        await encodeRecord(sampleRecord(w, null), w.node),
        async (b) => {
          const d = decodeRecord(b)
          return d.ok && (await verifyRecord(d.value, w.node.publicKey))
        },
      ],
      [
        await encodePolicy(samplePolicy(w), w.owner),
        async (b) => {
          const d = decodePolicy(b)
          return d.ok && (await verifyPolicy(d.value, w.owner.publicKey))
        },
      ],
    ]
    for (const [bytes, accept] of cases) {
      assert.equal(await accept(bytes), true)
      for (let i = 0; i < bytes.length; i++) {
        for (const bit of [0x01, 0x20, 0x80]) {
          const t = bytes.slice()
          t[i] ^= bit
          assert.equal(await accept(t), false, `byte ${i} ^ ${bit}`)
        }
      }
      // Also tamper inside the decoded payload and signature, re-wrapped canonically.
      const env = envelopeOf(bytes)
      const payload = Buffer.from(env.p, 'base64')
      const sig = Buffer.from(env.s, 'base64')
      for (let i = 0; i < payload.length; i += 3) {
        const p = Uint8Array.from(payload)
        p[i] ^= 0x01
        assert.equal(await accept(rewrap(p, env.s)), false)
      }
      for (let i = 0; i < sig.length; i++) {
        const s = Uint8Array.from(sig)
        s[i] ^= 0x04
        assert.equal(await accept(rewrap(payload, toBase64(s))), false)
      }
    }
  })

  it('domain separation: a signature for one type does not verify as another', async () => {
    const bytes = await encodeClaim(sampleClaim(w), w.mesh)
    const d = decodeClaim(bytes)
    assert.ok(d.ok)
    assert.equal(await verifySigned({ ...d.value, type: 'record' }, w.mesh.publicKey), false)
    assert.equal(await verifySigned(d.value, w.mesh.publicKey), true)
    assert.deepEqual(
      [...signingBytes('claim', Uint8Array.of(0x7b))],
      [...new TextEncoder().encode('meshlan/claim/v1\n{')],
    )
    // A claim envelope is not a record or a policy.
    const asRecord = decodeRecord(bytes)
    assert.ok(!asRecord.ok && /expected a 'record' payload, got 'claim'/.test(asRecord.reason))
    assert.equal(decodePolicy(bytes).ok, false)
  })

  it('rejects oversize envelopes and refuses to encode them', async () => {
    const record = sampleRecord(w, null)
    const padded = new Uint8Array(MAX_RECORD_BYTES + 1).fill(0x20)
    const r = decodeRecord(padded)
    assert.ok(!r.ok && /exceeds/.test(r.reason))
    const many = {
      ...record,
      addrs: Array.from({ length: 32 }, (_, i) => `/dns4/${'a'.repeat(400)}${i}/tcp/1`),
    }
    await assert.rejects(encodeRecord(many, w.node), InvalidMessageError)
    const tooMany = { ...record, addrs: Array.from({ length: 33 }, () => '/ip4/1.2.3.4/tcp/1') }
    await assert.rejects(encodeRecord(tooMany, w.node), /addrs/)
  })

  it('a policy signed before members and memberExpiresAt existed decodes with none bound and no end', async () => {
    const { members: _m, ...rest } = samplePolicy(w)
    const { memberExpiresAt: _e, ...key } = rest.keys[0]
    const old = { ...rest, keys: [key] }
    // sealed as it was then: the fields as given, none added
    const asThen = z.looseObject({ type: z.literal('policy') })
    const bytes = await sealEnvelope('policy', asThen, old, w.owner, 1 << 20)
    const d = decodePolicy(bytes)
    assert.ok(d.ok, d.ok ? '' : d.reason)
    const signedText = new TextDecoder().decode(d.value.payload)
    assert.ok(!signedText.includes('members') && !signedText.includes('memberExpiresAt'), signedText)
    assert.deepEqual(d.value.body.members, [])
    assert.equal(d.value.body.keys[0].memberExpiresAt, null)
    const owner = publicKeyFromPeerId(w.ownerId)
    assert.ok(owner.ok)
    assert.equal(await verifyPolicy(d.value, owner.value), true, 'the defaults do not touch the signed bytes')
  })

  it('schema-checks decoded bodies even when the signature is valid', async () => {
    const bad = { ...samplePolicy(w), subnet: '10.144.0.1/16' }
    const bytes = await sealEnvelope('policy', policySchema, samplePolicy(w), w.owner, 1 << 20)
    assert.ok(decodePolicy(bytes).ok)
    await assert.rejects(encodePolicy(bad as Policy, w.owner), /subnet/)
    const forged = rewrap(new TextEncoder().encode(JSON.stringify(bad)), envelopeOf(bytes).s)
    const d = decodePolicy(forged)
    assert.ok(!d.ok && /subnet/.test(d.reason), d.ok ? '' : d.reason)
  })

  it('rejects bad field values with readable reasons', async () => {
    const p = samplePolicy(w)
    const cases: [string, Policy][] = [
      ['keys.0.name', { ...p, keys: [{ ...p.keys[0], name: 'Bad_Name' }] }],
      ['keys.1.name', { ...p, keys: [p.keys[0], { ...p.keys[0] }] }],
      ['owner', { ...p, owner: 'QmNotAPeer' }],
      ['version', { ...p, version: 0 }],
      ['keys.0.publicKey', { ...p, keys: [{ ...p.keys[0], publicKey: 'AAAA' }] }],
      ['bootstrap.0', { ...p, bootstrap: ['ip4/1.2.3.4'] }],
      ['keys.0.memberExpiresAt', { ...p, keys: [{ ...p.keys[0], memberExpiresAt: -1 }] }],
      ['members.0.ip', { ...p, members: [{ ...p.members[0], ip: '10.144.0.300' }] }],
      // a binding is unique by peer id, name and address: the owner never binds one twice
      [
        'members.1.peerId',
        { ...p, members: [p.members[0], { ...p.members[1], peerId: p.members[0].peerId }] },
      ],
      ['members.1.name', { ...p, members: [p.members[0], { ...p.members[1], name: p.members[0].name }] }],
      ['members.1.ip', { ...p, members: [p.members[0], { ...p.members[1], ip: p.members[0].ip }] }],
    ]
    for (const [path, bad] of cases) {
      await assert.rejects(
        encodePolicy(bad, w.owner),
        (e: Error) => e instanceof InvalidMessageError && e.message.includes(path),
      )
    }
    const r = sampleRecord(w, null)
    await assert.rejects(encodeRecord({ ...r, ip: '10.144.0.256' }, w.node), /ip/)
    await assert.rejects(
      encodeRecord({ ...r, links: [{ peer: w.ownerId, path: 'udp' as 'direct', rttMs: 1 }] }, w.node),
    )
    await assert.rejects(encodeRecord({ ...r, seq: 1.5 }, w.node), /seq/)
  })

  it('rejects malformed envelopes as values', () => {
    const enc = (s: string) => new TextEncoder().encode(s)
    const bad = [
      '',
      'null',
      '[]',
      '{"p":1,"s":2}',
      '{"p":"@@@@","s":"AAAA"}',
      '{"p":"e30=","s":"AAAA"}',
      `{"p":"e30=","s":"${toBase64(new Uint8Array(64))}"}`,
      `{"p":"${toBase64(enc('[1]'))}","s":"${toBase64(new Uint8Array(64))}"}`,
    ]
    for (const s of bad) {
      const r = decodeClaim(enc(s))
      assert.equal(r.ok, false, s)
      assert.ok(!r.ok && typeof r.reason === 'string')
    }
    assert.equal(openEnvelope(Uint8Array.of(0xff, 0xfe), 'claim', policySchema, 100).ok, false)
    assert.equal(publicKeyFromPeerId('nope').ok, false)
    assert.equal(publicKeyFromRawBase64(toBase64(new Uint8Array(31))).ok, false)
  })
})
