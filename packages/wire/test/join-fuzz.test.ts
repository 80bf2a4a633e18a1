/**
 * Fuzz of the join-string parser (seeded: the seed is in the suite name; MESHLAN_FUZZ_SEED=<seed>
 * replays a run, MESHLAN_FUZZ_N sets the count). Properties: it never throws; a mutated string is
 * accepted only when it decodes to exactly the original (whitespace); a payload with a valid
 * checksum is accepted only when every bootstrap address parses, and then it round-trips.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { encodeJoinString, type JoinInfo, parseJoinString, toBase64Url } from '../src/index.ts'
import { parseBootstrapAddr } from '../src/join.ts'
import { mutate, prng, randomBytes, type World, world } from './fixtures.ts'

const N = Number(process.env.MESHLAN_FUZZ_N ?? 50_000)
const SEED = Number(process.env.MESHLAN_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
if (!Number.isSafeInteger(SEED)) throw new Error('MESHLAN_FUZZ_SEED must be an integer')

/** Pieces random bootstrap addresses are built from: valid ones and near misses. */
const PIECES = [
  '/ip4/192.0.2.1',
  '/ip4/1.2.3',
  '/ip4/256.1.1.1',
  '/ip6/2001:db8::1',
  '/ip6/zz::',
  '/dns4/nas.example.org',
  '/dns/-x-',
  '/tcp/4001',
  '/tcp/0',
  '/tcp/65536',
  '/tcp/',
  '/udp/1',
  '/quic-v1',
  '/ws',
  '/wss',
  '/tls',
  '/memory/m1',
  '/p2p-circuit',
  '/p2p/',
  '//',
  '/',
  'ip4',
]

function withChecksum(json: unknown): string {
  const payload = new TextEncoder().encode(JSON.stringify(json))
  const sum = createHash('sha256').update(payload).digest().subarray(0, 4)
  return `mlj2_${toBase64Url(new Uint8Array([...payload, ...sum]))}`
}

describe(`join string fuzz (seed ${SEED}; replay with MESHLAN_FUZZ_SEED=${SEED})`, () => {
  let w: World
  let info: JoinInfo
  let valid: string
  before(async () => {
    w = await world()
    info = {
      networkId: w.networkId,
      keyName: 'laptop',
      secret: w.secret,
      ownerPeerId: w.ownerId,
      bootstrap: [`/ip4/192.0.2.1/tcp/4001/p2p/${w.ownerId}`, `/dns4/a.example/tcp/443/wss/p2p/${w.nodeId}`],
    }
    valid = encodeJoinString(info)
  })

  it(`mutated strings: ${N} inputs, accepted only when unchanged`, () => {
    const rand = prng(SEED)
    const enc = new TextEncoder()
    const dec = new TextDecoder()
    const seed = enc.encode(valid)
    let accepted = 0
    for (let i = 0; i < N; i++) {
      const text =
        i % 5 === 0 ? dec.decode(randomBytes(rand, (rand() * 200) | 0)) : dec.decode(mutate(rand, seed))
      const r = parseJoinString(text)
      assert.equal(typeof r.ok, 'boolean')
      if (r.ok) {
        accepted++
        assert.deepEqual(r.value, info, `input ${i} (seed ${SEED}) accepted as something else: ${text}`)
      } else assert.equal(typeof r.reason, 'string')
    }
    console.log(`join fuzz: ${N} mutated/random inputs, ${accepted} accepted (all equal to the original)`)
  })

  it(`valid checksums around random bootstrap lists: ${N} inputs`, () => {
    const rand = prng(SEED + 1)
    const ids = [w.ownerId, w.nodeId, 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', 'x']
    let accepted = 0
    for (let i = 0; i < N; i++) {
      const b: string[] = []
      const count = (rand() * 4) | 0
      for (let j = 0; j < count; j++) {
        let a = ''
        const parts = 1 + ((rand() * 4) | 0)
        for (let k = 0; k < parts; k++) a += PIECES[(rand() * PIECES.length) | 0]
        if (rand() < 0.7) a += `/p2p/${ids[(rand() * ids.length) | 0]}`
        b.push(a)
      }
      const r = parseJoinString(
        withChecksum({
          n: info.networkId,
          k: info.keyName,
          s: toBase64Url(info.secret),
          o: info.ownerPeerId,
          b,
        }),
      )
      const allParse = b.every((a) => parseBootstrapAddr(a).ok)
      assert.equal(r.ok, allParse, `input ${i} (seed ${SEED}): ${JSON.stringify(b)}`)
      if (r.ok) {
        accepted++
        assert.deepEqual(parseJoinString(encodeJoinString(r.value)), r)
      } else assert.match(r.reason, /^bootstrap address \d+ ".*" is not a multiaddr meshlan can dial: /)
    }
    assert.ok(accepted > 0)
    console.log(`join fuzz: ${N} bootstrap lists, ${accepted} accepted (each round-trips)`)
  })
})
