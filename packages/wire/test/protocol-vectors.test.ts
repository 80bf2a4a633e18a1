/**
 * The vectors published with docs/protocol.md (test/vectors/protocol-vectors.json), decoded with the
 * real parsers and checked field by field. A vector that stops decoding is a wire-format change:
 * update the doc, then regenerate with `node packages/wire/test/vectors/generate.ts`.
 * The overlay-address vectors are recomputed here from the doc's rule alone (node:crypto), as a
 * second implementation would.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import {
  checkIpv4,
  checkRoutePrefix,
  checkVnetFrame,
  createFrameBatch,
  decodeClaim,
  decodeClaimString,
  decodeControl,
  decodeHelloAnswer,
  decodeHelloOffer,
  decodeHolePunch,
  decodePolicy,
  decodeRecord,
  deriveMeshKey,
  encodeFrame,
  FrameDecoder,
  IPV4_OK,
  icmpType,
  ipToUint32,
  ipv4Dst,
  ipv4Proto,
  ipv4Src,
  l4DstPort,
  meshKeySeed,
  networkIdFrom,
  nodeRecordSchema,
  parseCidr,
  parseJoinString,
  policySchema,
  publicKeyFromPeerId,
  publicKeyFromRawBase64,
  type Result,
  type Signed,
  signingBytes,
  toBase64,
  uint32ToIp,
  verifySigned,
} from '../src/index.ts'

const V = JSON.parse(readFileSync(new URL('./vectors/protocol-vectors.json', import.meta.url), 'utf8'))
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'))
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** Every field of `expected` is in `actual` with the same value (extra fields in `actual` are fine). */
function assertFields(actual: unknown, expected: unknown, path = '$'): void {
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path} is an object`)
    if (Array.isArray(expected)) {
      assert.ok(Array.isArray(actual), `${path} is an array`)
      assert.equal(actual.length, expected.length, `${path} length`)
    }
    for (const [k, v] of Object.entries(expected))
      assertFields((actual as Record<string, unknown>)[k], v, `${path}.${k}`)
  } else {
    assert.deepEqual(actual, expected, path)
  }
}

function decodeOne(hexText: string) {
  const d = new FrameDecoder()
  const batch = createFrameBatch(8)
  d.push(bytes(hexText))
  const n = d.decode(batch)
  return { n, batch }
}

describe('docs/protocol.md vectors', () => {
  describe('tunnel frames', () => {
    it('type 1: one IPv4 packet', () => {
      const v = V.frames.ip
      const { n, batch } = decodeOne(v.hex)
      assert.equal(n, 1)
      assert.equal(batch.count, 1)
      assert.equal(batch.vnet, false)
      assert.equal(batch.lengths[0], v.expect.length)
      const off = batch.offsets[0]
      assert.equal(checkIpv4(batch.buf, off, batch.lengths[0]), IPV4_OK)
      assert.equal(uint32ToIp(ipv4Src(batch.buf, off)), v.expect.src)
      assert.equal(uint32ToIp(ipv4Dst(batch.buf, off)), v.expect.dst)
      assert.equal(ipv4Proto(batch.buf, off), v.expect.proto)
      assert.equal(icmpType(batch.buf, off), v.expect.icmpType)
    })

    for (const name of ['control_refuse', 'control_hello']) {
      it(`type 2: control message (${name})`, () => {
        const v = V.frames[name]
        const { n, batch } = decodeOne(v.hex)
        assert.equal(n, 1)
        assert.equal(batch.count, 0)
        const payload = batch.buf.subarray(batch.controlOffset, batch.controlOffset + batch.controlLength)
        assert.equal(new TextDecoder().decode(payload), v.payloadText)
        const msg = decodeControl(payload)
        assert.ok(msg.ok, msg.ok ? '' : msg.reason)
        assert.deepEqual(msg.value, v.expect.message)
      })
    }

    it('type 3: virtio_net_hdr + IPv4 packet', () => {
      const v = V.frames.ip_vnet
      const { n, batch } = decodeOne(v.hex)
      assert.equal(n, 1)
      assert.equal(batch.vnet, true)
      assert.equal(batch.lengths[0], v.expect.length)
      const off = batch.offsets[0]
      assert.equal(hex(batch.buf.subarray(off, off + 10)), v.expect.vnetHeaderHex)
      assert.equal(checkIpv4(batch.buf, off + 10, batch.lengths[0] - 10), IPV4_OK)
      assert.equal(uint32ToIp(ipv4Src(batch.buf, off + 10)), v.expect.src)
    })

    for (const name of ['ip_vnet_csum', 'ip_vnet_port_rewrite']) {
      it(`type 3: the receiver's verdict on the virtio_net_hdr (${name})`, () => {
        const v = V.frames[name]
        const { n, batch } = decodeOne(v.hex)
        assert.equal(n, 1)
        assert.equal(batch.vnet, true)
        const off = batch.offsets[0]
        assert.deepEqual(checkVnetFrame(batch.buf, off, batch.lengths[0]), v.expect.verdict)
        assert.equal(l4DstPort(batch.buf, off + 10), v.expect.dport)
      })
    }

    it('frames are independent of chunk boundaries', () => {
      const v = V.frames.two_frames_one_chunk
      const all = bytes(v.hex)
      for (let cut = 0; cut <= all.length; cut++) {
        const d = new FrameDecoder()
        const batch = createFrameBatch(8)
        let frames = 0
        for (const chunk of [all.subarray(0, cut), all.subarray(cut)]) {
          d.push(chunk)
          const n = d.decode(batch)
          assert.equal(typeof n, 'number')
          frames += batch.count
        }
        assert.equal(frames, v.expect.ipFrames, `split at ${cut}`)
      }
    })

    for (const name of ['bad_type', 'too_long']) {
      it(`a bad header stops the stream (${name})`, () => {
        const v = V.frames[name]
        const { n } = decodeOne(v.hex)
        assert.ok(typeof n === 'object', 'a FrameError, not a frame count')
        assertFields(n, v.expect)
      })
    }
  })

  describe('signed envelopes', () => {
    const check = async (
      name: 'policy' | 'claim' | 'record',
      decode: (b: Uint8Array) => Result<Signed<unknown>>,
      signerKey: () => ReturnType<typeof publicKeyFromPeerId>,
    ) => {
      const v = V.envelopes[name]
      const r = decode(bytes(v.hex))
      assert.ok(r.ok, r.ok ? '' : r.reason)
      assert.equal(new TextDecoder().decode(r.value.payload), v.payloadText)
      assert.equal(hex(signingBytes(name, r.value.payload)), v.signedMessageHex)
      assert.ok(
        hex(signingBytes(name, r.value.payload)).startsWith(
          hex(new TextEncoder().encode(`meshlan/${name}/v1\n`)),
        ),
      )
      assert.equal(hex(r.value.signature), v.signatureHex)
      assertFields(r.value.body, v.expect)
      const key = signerKey()
      assert.ok(key.ok)
      assert.equal(await verifySigned(r.value, key.value), true, 'signature verifies with the signer')
      // domain separation: the same payload and signature are not valid as another type
      const other = name === 'claim' ? 'record' : 'claim'
      assert.equal(await verifySigned({ ...r.value, type: other }, key.value), false)
      return r.value
    }

    it('policy, signed by the owner', async () => {
      await check('policy', decodePolicy, () => publicKeyFromPeerId(V.envelopes.policy.signer))
    })

    it('claim, signed by the mesh key', async () => {
      await check('claim', decodeClaim, () => publicKeyFromRawBase64(V.envelopes.claim.signer))
    })

    it('record, signed by the node, carrying its claim', async () => {
      const rec = (await check('record', decodeRecord, () =>
        publicKeyFromPeerId(V.envelopes.record.signer),
      )) as {
        body: { claim: string }
      }
      const claim = decodeClaimString(rec.body.claim)
      assert.ok(claim.ok, claim.ok ? '' : claim.reason)
      assert.equal(hex(claim.value.bytes), V.envelopes.claim.hex)
    })

    it('one flipped payload byte breaks the signature', async () => {
      const v = V.envelopes.claim
      const r = decodeClaim(bytes(v.hex))
      assert.ok(r.ok)
      const payload = r.value.payload.slice()
      payload[payload.length - 2] ^= 1 // a digit of issuedAt: still valid JSON
      const key = publicKeyFromRawBase64(v.signer)
      assert.ok(key.ok)
      assert.equal(await verifySigned({ ...r.value, payload }, key.value), false)
    })
  })

  describe('the membership handshake (/meshlan/hello/1.0.0)', () => {
    /** Reads one length-prefixed message as a receiver does: uvarint length, then the bytes. */
    const unprefix = (hexText: string): Uint8Array => {
      const b = bytes(hexText)
      let len = 0
      let shift = 0
      let i = 0
      for (; ; i++) {
        len |= (b[i] & 0x7f) << shift
        shift += 7
        if ((b[i] & 0x80) === 0) break
      }
      assert.equal(b.length - i - 1, len, 'the prefix is the message length')
      return b.subarray(i + 1)
    }
    const proofOf = (p: { kind: string; claim?: Uint8Array }) =>
      p.kind === 'claim' ? { kind: 'claim', claimHex: hex(p.claim as Uint8Array) } : { kind: 'owner' }

    for (const name of ['offer_claim', 'offer_owner']) {
      it(`offer (${name})`, () => {
        const v = V.hello[name]
        const msg = unprefix(v.lengthPrefixedHex)
        assert.equal(hex(msg), v.hex)
        const r = decodeHelloOffer(msg)
        assert.ok(r.ok, r.ok ? '' : r.reason)
        assert.deepEqual(proofOf(r.value), v.expect)
      })
    }

    it('the claim an offer carries is the claim envelope vector, signed by the mesh key', async () => {
      const r = decodeHelloOffer(bytes(V.hello.offer_claim.hex))
      assert.ok(r.ok && r.value.kind === 'claim')
      assert.equal(hex(r.value.claim), V.envelopes.claim.hex)
      const claim = decodeClaim(r.value.claim)
      assert.ok(claim.ok)
      const key = publicKeyFromRawBase64(V.envelopes.claim.signer)
      assert.ok(key.ok)
      assert.equal(await verifySigned(claim.value, key.value), true)
    })

    for (const name of ['answer_admitted_owner', 'answer_admitted_claim', 'answer_refused']) {
      it(`answer (${name})`, () => {
        const v = V.hello[name]
        const msg = unprefix(v.lengthPrefixedHex)
        assert.equal(hex(msg), v.hex)
        const r = decodeHelloAnswer(msg)
        assert.ok(r.ok, r.ok ? '' : r.reason)
        const got = r.value.admitted
          ? { admitted: true, proof: proofOf(r.value.proof) }
          : { admitted: false, reason: r.value.reason }
        assert.deepEqual(got, v.expect)
      })
    }

    it('bad offers and answers are refused with the documented reason', () => {
      for (const b of V.hello.bad_offers)
        assert.deepEqual(decodeHelloOffer(bytes(b.hex)), { ok: false, reason: b.reason })
      for (const b of V.hello.bad_answers)
        assert.deepEqual(decodeHelloAnswer(bytes(b.hex)), { ok: false, reason: b.reason })
    })
  })

  it('join string', () => {
    const v = V.join
    const r = parseJoinString(`  ${v.text}\n`)
    assert.ok(r.ok, r.ok ? '' : r.reason)
    assert.deepEqual(
      { ...r.value, secret: undefined, secretHex: hex(r.value.secret) },
      { ...v.expect, secret: undefined },
    )
  })

  it('mesh key: HKDF-SHA256 seed and Ed25519 public key', async () => {
    const v = V.meshKey
    assert.equal(hex(meshKeySeed(bytes(v.secretHex), v.networkId)), v.seedHex)
    const k = await deriveMeshKey(bytes(v.secretHex), v.networkId)
    assert.equal(toBase64(k.publicKey.raw), v.publicKeyBase64)
  })

  it('network id', () => {
    const v = V.networkId
    assert.equal(networkIdFrom(v.ownerPeerId, v.name, v.createdAt), v.networkId)
  })

  it('overlay addresses: candidates and the collision rule, from the doc alone', () => {
    const v = V.addresses
    const cidr = parseCidr(v.subnet)
    assert.ok(cidr.ok)
    const usable = 2 ** (32 - cidr.prefix) - 2
    const candidate = (peerId: string, counter: number) => {
      const digest = createHash('sha256')
        .update(`meshlan-addr/v1|${v.networkId}|${peerId}|${counter}`)
        .digest()
      return uint32ToIp((cidr.base + 1 + (digest.readUInt32BE(0) % usable)) >>> 0)
    }
    for (const c of v.candidates) {
      for (const k of [c.first, c.second]) {
        const digest = createHash('sha256').update(k.inputText, 'utf8').digest()
        assert.equal(digest.toString('hex'), k.sha256Hex)
        assert.equal(candidate(c.peerId, k.counter), k.ip)
      }
    }
    assert.equal(v.candidates[0].first.ip, v.candidates[1].first.ip, 'the vector shows a collision')
    // greedy in ascending peer-id order (byte-wise string compare); each takes its lowest free counter
    const taken = new Set<string>()
    const ids = v.candidates.map((c: { peerId: string }) => c.peerId).sort()
    for (const id of ids) {
      let counter = 0
      while (taken.has(candidate(id, counter))) counter++
      taken.add(candidate(id, counter))
      assert.deepEqual({ ip: candidate(id, counter), counter }, v.assignment[id])
    }
    assert.ok(ipToUint32(v.assignment[ids[1]].ip) >= 0)
  })

  it('policy members: the owner binds names and addresses', () => {
    const r = decodePolicy(bytes(V.envelopes.policy.hex))
    assert.ok(r.ok)
    const names = r.value.body.members.map((m) => m.name)
    assert.deepEqual(names, ['nas', 'laptop'])
    const laptop = r.value.body.members[1]
    assert.equal(laptop.peerId, V.keys.node.peerId)
    assert.equal(laptop.key, 'laptop')
    const rec = decodeRecord(bytes(V.envelopes.record.hex))
    assert.ok(rec.ok)
    assert.equal(rec.value.body.ip, laptop.ip, "the record's address is the bound one")
  })

  it("quick checks (the doc's examples without the file)", () => {
    assert.equal(hex(encodeFrame(2, new TextEncoder().encode('{}'))), '020000027b7d')
    assert.equal(
      new TextDecoder().decode(signingBytes('record', new TextEncoder().encode('{}'))),
      'meshlan/record/v1\n{}',
    )
    const secret = new Uint8Array(32).fill(7)
    assert.equal(
      hex(meshKeySeed(secret, 'npvnhqbzgqbfpwj2h')),
      '977bb6ca85c81a6545fa0be829088cb724e46d7fbd51966e1d2d25c5293a870b',
    )
    assert.equal(V.meshKey.publicKeyBase64, 'B802qXzD2hWbGh/Ifw1JM79cokdID2eK62ePxSxosFw=')
    assert.equal(networkIdFrom(V.keys.owner.peerId, 'home', 0), 'npvnhqbzgqbfpwj2h')
  })

  it('DCUtR HolePunch message', () => {
    const v = V.dcutr
    const r = decodeHolePunch(bytes(v.hex))
    assert.ok(r.ok, r.ok ? '' : r.reason)
    assert.equal(r.value.type, v.expect.type)
    assert.deepEqual(r.value.obsAddrs.map(hex), v.expect.obsAddrsHex)
  })
})

describe('routes and exit nodes (record routes/exitNode, policy routes, key autoApprove)', () => {
  it('the vectors carry them, and documents without them still decode with the defaults', () => {
    const p = decodePolicy(bytes(V.envelopes.policy.hex))
    assert.ok(p.ok)
    assert.deepEqual(
      p.value.body.routes.map((r) => r.route),
      ['192.168.1.0/24', 'exit'],
    )
    assert.deepEqual(p.value.body.keys[0].autoApprove, { routes: ['192.168.1.0/24'], exit: false })
    const rec = decodeRecord(bytes(V.envelopes.record.hex))
    assert.ok(rec.ok)
    assert.deepEqual(rec.value.body.routes, ['192.168.1.0/24'])
    assert.equal(rec.value.body.exitNode, false)

    // a document from before the fields existed
    const { routes: _r, exitNode: _e, ...oldRecord } = V.envelopes.record.expect
    const r = nodeRecordSchema.safeParse(oldRecord)
    assert.ok(r.success)
    assert.deepEqual([r.data.routes, r.data.exitNode], [[], false])
    const { routes: _pr, ...oldPolicy } = V.envelopes.policy.expect
    oldPolicy.keys = oldPolicy.keys.map(({ autoApprove: _a, ...k }: Record<string, unknown>) => k)
    const q = policySchema.safeParse(oldPolicy)
    assert.ok(q.success)
    assert.deepEqual(q.data.routes, [])
    assert.deepEqual(q.data.keys[0].autoApprove, { routes: [], exit: false })
  })

  it('only canonical, routable IPv4 prefixes pass, with a reason', () => {
    for (const good of ['192.168.1.0/24', '10.0.0.0/8', '172.16.5.4/32', '100.64.0.0/10']) {
      assert.ok(checkRoutePrefix(good).ok, good)
    }
    const bad: Array<[string, RegExp]> = [
      ['192.168.1.1/24', /host bits/],
      ['10.0.0.0/7', /wider than \/8/],
      ['0.0.0.0/0', /wider than/],
      ['127.0.0.0/8', /127\.0\.0\.0\/8/],
      ['127.0.0.1/32', /host-local/],
      ['0.1.0.0/16', /0\.0\.0\.0\/8/],
      ['224.0.0.0/4', /224\.0\.0\.0\/4/],
      ['239.1.0.0/16', /host-local/],
      ['fd00::/8', /CIDR|IPv4/],
      ['192.168.1.0/33', /prefix/],
      ['exit', /CIDR/],
    ]
    for (const [text, why] of bad) {
      const r = checkRoutePrefix(text)
      assert.ok(!r.ok, text)
      assert.match(r.reason, why, text)
    }
  })

  it('schema limits: bad, duplicate and too many routes are refused', () => {
    const rec = V.envelopes.record.expect
    const refused = (routes: unknown) => !nodeRecordSchema.safeParse({ ...rec, routes }).success
    assert.ok(refused(['192.168.1.5/24']))
    assert.ok(refused(['192.168.1.0/24', '192.168.1.0/24']))
    assert.ok(refused(['exit']), "'exit' is a policy approval, not an advertised route")
    assert.ok(refused(Array.from({ length: 33 }, (_, i) => `10.${i}.0.0/16`)))
    assert.ok(!refused(Array.from({ length: 32 }, (_, i) => `10.${i}.0.0/16`)))
    assert.ok(!nodeRecordSchema.safeParse({ ...rec, exitNode: 'yes' }).success)

    const pol = V.envelopes.policy.expect
    const polRefused = (routes: unknown) => !policySchema.safeParse({ ...pol, routes }).success
    const peerId = V.keys.node.peerId
    assert.ok(!polRefused([{ peerId, route: 'exit', approvedAt: 1 }]))
    assert.ok(polRefused([{ peerId, route: 'EXIT', approvedAt: 1 }]))
    assert.ok(polRefused([{ peerId, route: '10.1.2.3/8', approvedAt: 1 }]))
    assert.ok(polRefused([{ peerId: 'nobody', route: '10.0.0.0/8', approvedAt: 1 }]))
    assert.ok(
      polRefused([
        { peerId, route: '10.0.0.0/8', approvedAt: 1 },
        { peerId, route: '10.0.0.0/8', approvedAt: 2 },
      ]),
      'one approval per node and route',
    )
    assert.ok(
      polRefused(
        Array.from({ length: 1025 }, (_, i) => ({
          peerId,
          route: `10.${i >> 8}.${i & 255}.0/24`,
          approvedAt: 1,
        })),
      ),
    )
    const key = pol.keys[0]
    const keyRefused = (autoApprove: unknown) =>
      !policySchema.safeParse({ ...pol, keys: [{ ...key, autoApprove }] }).success
    assert.ok(!keyRefused({ routes: ['10.0.0.0/8'], exit: true }))
    assert.ok(keyRefused({ routes: ['10.0.0.1/8'], exit: false }))
    assert.ok(keyRefused({ routes: [], exit: 'yes' }))
  })
})
