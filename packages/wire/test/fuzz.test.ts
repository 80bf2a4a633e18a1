/**
 * Fuzz every parser that reads bytes from the network with >= 100 000 random and mutated inputs:
 * no throw, no hang, results are values. Seeded: a fresh random seed each run (more inputs over
 * time), printed in the suite name; MESHLAN_FUZZ_SEED=<seed> replays a run exactly.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import {
  checkIpv4,
  claimToString,
  createFrameBatch,
  decodeClaim,
  decodeControl,
  decodePolicy,
  decodeRecord,
  encodeClaim,
  encodeControl,
  encodeFrame,
  encodeJoinString,
  encodePolicy,
  encodeRecord,
  FrameDecoder,
  IPV4_OK,
  IPV4_REASONS,
  icmpType,
  ipv4Dst,
  ipv4HeaderLen,
  ipv4Proto,
  ipv4Src,
  ipv4TotalLen,
  isFragmentNonFirst,
  l4DstPort,
  l4SrcPort,
  MAX_FRAME_PAYLOAD,
  parseJoinString,
  type Result,
  type Signed,
  tcpFlags,
  toBase64,
  verifySigned,
} from '../src/index.ts'
import {
  mutate,
  packet,
  prng,
  randomBytes,
  sampleClaim,
  samplePolicy,
  sampleRecord,
  world,
} from './fixtures.ts'

const N = 100_000
const SEED = fuzzSeed(process.env.MESHLAN_FUZZ_SEED)

function fuzzSeed(env: string | undefined): number {
  if (env == null || env === '') return Math.floor(Math.random() * 2 ** 31)
  const n = Number(env)
  if (!Number.isSafeInteger(n)) throw new Error(`MESHLAN_FUZZ_SEED must be an integer, got '${env}'`)
  return n
}

function isResult(r: Result<unknown>): boolean {
  return (
    (r.ok === true && 'value' in r) || (r.ok === false && typeof r.reason === 'string' && r.reason.length > 0)
  )
}

const enc = new TextEncoder()

describe(`fuzz (seed ${SEED}; replay with MESHLAN_FUZZ_SEED=${SEED})`, () => {
  const seeds: Record<string, Uint8Array[]> = {}
  const keys: Record<string, Parameters<typeof verifySigned>[1]> = {}

  before(async () => {
    const w = await world()
    const claim = await encodeClaim(sampleClaim(w), w.mesh)
    seeds.claim = [claim]
    seeds.record = [
      await encodeRecord(sampleRecord(w, claimToString(claim)), w.node),
      await encodeRecord({ ...sampleRecord(w, null), links: [], addrs: [] }, w.node),
    ]
    seeds.policy = [await encodePolicy(samplePolicy(w), w.owner)]
    keys.claim = w.mesh.publicKey
    keys.record = w.node.publicKey
    keys.policy = w.owner.publicKey
    seeds.control = [
      encodeControl({ t: 'hello', v: 1, networkId: w.networkId, peerId: w.nodeId }),
      encodeControl({ t: 'refuse', code: 'NOT_MEMBER', reason: 'x' }),
      encodeControl({ t: 'close', code: 'BYE', reason: '' }),
    ]
    seeds.join = [
      enc.encode(
        encodeJoinString({
          networkId: w.networkId,
          keyName: 'laptop',
          secret: w.secret,
          ownerPeerId: w.ownerId,
          bootstrap: ['/ip4/192.0.2.1/tcp/4001'],
        }),
      ),
    ]
  })

  it(`checkIpv4 and accessors: ${N} inputs`, () => {
    const rand = prng(SEED)
    const valid = [
      packet({
        proto: 6,
        l4: [0xc7, 0x38, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0],
      }),
      packet({ proto: 17, l4: [0, 53, 0x9c, 0x40, 0, 12, 0, 0, 1, 2, 3, 4], options: 4 }),
      packet({ proto: 1, l4: [8, 0, 0, 0, 0, 1, 0, 1] }),
      packet({ proto: 6, l4: [1, 2, 3], fragOffset: 3 }),
    ]
    const counts = new Array(IPV4_REASONS.length).fill(0)
    for (let i = 0; i < N; i++) {
      const mode = i % 3
      const buf =
        mode === 0 ? randomBytes(rand, (rand() * 80) | 0) : mutate(rand, valid[(rand() * valid.length) | 0])
      if (mode === 0 && buf.length > 0) buf[0] = 0x40 | (buf[0] & 0x0f) // mostly IPv4-looking
      let off = 0
      let len = buf.length
      const r = rand()
      if (r < 0.1) off = ((rand() * 12) | 0) - 4
      if (r > 0.9) len = ((rand() * (buf.length + 8)) | 0) - 4
      const code = checkIpv4(buf, off, len)
      assert.ok(Number.isInteger(code) && code >= 0 && code < IPV4_REASONS.length)
      counts[code]++
      // Accessors never throw, even on unchecked bytes; on checked ones they stay in range.
      const vals = [
        ipv4HeaderLen(buf, off),
        ipv4TotalLen(buf, off),
        ipv4Proto(buf, off),
        ipv4Src(buf, off),
        ipv4Dst(buf, off),
        l4SrcPort(buf, off),
        l4DstPort(buf, off),
        icmpType(buf, off),
        tcpFlags(buf, off),
      ]
      void isFragmentNonFirst(buf, off)
      if (code === IPV4_OK) {
        const [hl, total, proto, src, dst, sp, dp, icmp, flags] = vals
        assert.ok(hl >= 20 && hl <= total && total <= len)
        assert.ok(proto >= 0 && proto <= 255)
        assert.ok(src >= 0 && src <= 0xffffffff && dst >= 0 && dst <= 0xffffffff)
        assert.ok(sp >= 0 && sp <= 65535 && dp >= 0 && dp <= 65535)
        assert.ok(icmp >= -1 && icmp <= 255 && flags >= 0 && flags <= 255)
      }
    }
    assert.ok(counts[IPV4_OK] > 1000, `too few valid packets: ${counts}`)
  })

  it(`FrameDecoder: ${N} mutated streams split at random`, () => {
    const rand = prng(SEED + 1)
    const batch = createFrameBatch(4)
    const good = [
      encodeFrame(1, randomBytes(rand, 60)),
      encodeFrame(2, enc.encode('{"t":"close","code":"x","reason":""}')),
      encodeFrame(1, new Uint8Array(0)),
      encodeFrame(1, randomBytes(rand, 1500)),
    ]
    let errors = 0
    let frames = 0
    for (let i = 0; i < N; i++) {
      const parts: Uint8Array[] = []
      const k = 1 + ((rand() * 5) | 0)
      for (let j = 0; j < k; j++) parts.push(good[(rand() * good.length) | 0])
      let total = 0
      for (const p of parts) total += p.length
      let stream: Uint8Array = new Uint8Array(total)
      let o = 0
      for (const p of parts) {
        stream.set(p, o)
        o += p.length
      }
      stream = i % 4 === 0 ? randomBytes(rand, (rand() * 64) | 0) : mutate(rand, stream)
      const dec = new FrameDecoder({ initialBufferBytes: 64 })
      let pos = 0
      let steps = 0
      let failed = false
      while (pos < stream.length && !failed) {
        const n = 1 + ((rand() * (stream.length - pos)) | 0)
        dec.push(stream.subarray(pos, pos + n))
        pos += n
        for (;;) {
          assert.ok(++steps < 10_000, 'decoder did not make progress')
          const r = dec.decode(batch)
          if (typeof r !== 'number') {
            assert.ok(r.error === 'BAD_FRAME_TYPE' || r.error === 'FRAME_TOO_LONG')
            failed = true
            errors++
            break
          }
          if (r === 0) break
          frames += r
          for (let f = 0; f < batch.count; f++) {
            assert.ok(batch.lengths[f] <= MAX_FRAME_PAYLOAD)
            assert.ok(batch.offsets[f] + batch.lengths[f] <= batch.buf.length)
          }
          if (batch.controlOffset >= 0) {
            assert.ok(batch.controlOffset + batch.controlLength <= batch.buf.length)
            assert.ok(
              isResult(
                decodeControl(
                  batch.buf.subarray(batch.controlOffset, batch.controlOffset + batch.controlLength),
                ),
              ),
            )
          }
        }
      }
      assert.ok(dec.buffered <= stream.length)
    }
    assert.ok(errors > 100 && frames > 1000, `errors ${errors} frames ${frames}`)
  })

  it(`decodeControl: ${N} inputs`, () => {
    const rand = prng(SEED + 2)
    let okCount = 0
    for (let i = 0; i < N; i++) {
      const input =
        i % 5 === 0
          ? randomBytes(rand, (rand() * 200) | 0)
          : mutate(rand, seeds.control[(rand() * seeds.control.length) | 0])
      const r = decodeControl(input)
      assert.ok(isResult(r))
      if (r.ok) okCount++
    }
    assert.ok(okCount > 0)
  })

  for (const type of ['claim', 'record', 'policy'] as const) {
    it(`decode ${type} envelopes: ${N} inputs`, async () => {
      const decode = { claim: decodeClaim, record: decodeRecord, policy: decodePolicy }[type] as (
        b: Uint8Array,
      ) => Result<Signed<unknown>>
      const rand = prng(SEED + type.length)
      const seedEnvs = seeds[type]
      const seedPayloads = seedEnvs.map((e) => {
        const env = JSON.parse(new TextDecoder().decode(e)) as { p: string; s: string }
        return { payload: new Uint8Array(Buffer.from(env.p, 'base64')), s: env.s }
      })
      const accepted: Signed<unknown>[] = []
      for (let i = 0; i < N; i++) {
        const mode = i % 4
        let input: Uint8Array
        if (mode === 0) {
          input = randomBytes(rand, (rand() * 300) | 0)
        } else if (mode === 1) {
          input = mutate(rand, seedEnvs[(rand() * seedEnvs.length) | 0])
        } else {
          // Mutate the payload JSON and re-wrap it canonically, to reach the schema and signature.
          const sp = seedPayloads[(rand() * seedPayloads.length) | 0]
          input = enc.encode(JSON.stringify({ p: toBase64(mutate(rand, sp.payload)), s: sp.s }))
        }
        const r = decode(input)
        assert.ok(isResult(r))
        if (r.ok) {
          assert.equal(r.value.type, type)
          assert.equal(r.value.signature.length, 64)
          if (accepted.length < 2000) accepted.push(r.value)
        }
      }
      // Whatever was accepted must verify only if its payload and signature are an original pair.
      const originals = seedPayloads.map((s) => `${Buffer.from(s.payload).toString('hex')}:${s.s}`)
      for (const s of accepted) {
        const same = originals.includes(`${Buffer.from(s.payload).toString('hex')}:${toBase64(s.signature)}`)
        assert.equal(await verifySigned(s, keys[type]), same)
      }
    })
  }

  it(`parseJoinString: ${N} inputs`, () => {
    const rand = prng(SEED + 9)
    const dec = new TextDecoder()
    const alphabet = 'mlj1_ABCabc019-+/=\n {}"'
    let okCount = 0
    for (let i = 0; i < N; i++) {
      let text: string
      const mode = i % 4
      if (mode === 0) {
        text = dec.decode(randomBytes(rand, (rand() * 120) | 0))
      } else if (mode === 1) {
        const n = (rand() * 100) | 0
        text = 'mlj1_'
        for (let j = 0; j < n; j++) text += alphabet[(rand() * alphabet.length) | 0]
      } else {
        text = dec.decode(mutate(rand, seeds.join[0]))
      }
      const r = parseJoinString(text)
      assert.ok(isResult(r))
      if (r.ok) {
        okCount++
        assert.equal(r.value.secret.length, 32)
      }
    }
    assert.ok(okCount > 0)
  })
})
