import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { prng as mulberry32 } from '@meshlan/testkit'
import {
  DCUTR_CONNECT,
  DCUTR_SYNC,
  decodeHolePunch,
  encodeHolePunch,
  MAX_DCUTR_ADDRS,
  MAX_DCUTR_MESSAGE,
} from '../src/index.ts'

describe('DCUtR HolePunch codec', () => {
  it('round-trips CONNECT with addresses and SYNC', () => {
    const addrs = [new Uint8Array([4, 198, 18, 0, 1, 6, 0x1f, 0x0a]), new Uint8Array([4, 10, 0, 0, 1])]
    const c = decodeHolePunch(encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: addrs }))
    assert.ok(c.ok)
    assert.equal(c.value.type, DCUTR_CONNECT)
    assert.deepEqual(c.value.obsAddrs, addrs)
    const s = decodeHolePunch(encodeHolePunch({ type: DCUTR_SYNC, obsAddrs: [] }))
    assert.ok(s.ok && s.value.type === DCUTR_SYNC)
  })
  it('matches the protobuf encoding of the spec', () => {
    // type=CONNECT (100) → 08 64; one addr 0x04 0x7f 0x00 0x00 0x01 → 12 05 …
    const bytes = encodeHolePunch({ type: 100, obsAddrs: [new Uint8Array([4, 127, 0, 0, 1])] })
    assert.deepEqual([...bytes], [0x08, 0x64, 0x12, 0x05, 4, 127, 0, 0, 1])
    assert.deepEqual([...encodeHolePunch({ type: 300, obsAddrs: [] })], [0x08, 0xac, 0x02])
  })
  it('rejects bad input as values', () => {
    assert.equal(decodeHolePunch(new Uint8Array([0x08])).ok, false)
    assert.equal(decodeHolePunch(new Uint8Array([0x08, 0x05])).ok, false, 'unknown type')
    assert.equal(decodeHolePunch(new Uint8Array([0x08, 0x64, 0x12, 0x09, 1])).ok, false, 'field past the end')
    assert.equal(decodeHolePunch(new Uint8Array(5000)).ok, false, 'too long')
  })
  it('a CONNECT with any number of addresses still decodes: the encoder caps the count', () => {
    // issue 8 §5: past 32 observed addresses, CONNECT messages broke on the far side
    for (const n of [MAX_DCUTR_ADDRS, MAX_DCUTR_ADDRS + 1, 100, 1000]) {
      const addrs = Array.from(
        { length: n },
        (_, i) => new Uint8Array([4, 198, 18, i >> 8, i & 255, 6, 0x1f, 0x0a]),
      )
      const bytes = encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: addrs })
      const r = decodeHolePunch(bytes)
      assert.ok(r.ok, `${n} addresses: ${r.ok ? '' : r.reason}`)
      assert.equal(r.value.obsAddrs.length, Math.min(n, MAX_DCUTR_ADDRS))
      assert.deepEqual(r.value.obsAddrs, addrs.slice(0, MAX_DCUTR_ADDRS), 'the first ones are kept, in order')
    }
  })
  it('a CONNECT with long addresses still decodes: the encoder caps the size', () => {
    const addrs = Array.from({ length: 10 }, () => randomBytes(600))
    const bytes = encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: addrs })
    assert.ok(bytes.length <= MAX_DCUTR_MESSAGE, `${bytes.length} bytes`)
    const r = decodeHolePunch(bytes)
    assert.ok(r.ok)
    assert.equal(r.value.obsAddrs.length, 6, '6 × 603 bytes fit in 4096, 7 do not')
  })
  it('refuses an oversize CONNECT with a reason', () => {
    // hand-built: 33 addresses (the encoder would never write it)
    const one = [0x12, 0x02, 4, 1]
    const many = new Uint8Array([
      0x08,
      0x64,
      ...Array.from({ length: MAX_DCUTR_ADDRS + 1 }, () => one).flat(),
    ])
    const r = decodeHolePunch(many)
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.reason, /more than 32 addresses/)
    const big = decodeHolePunch(new Uint8Array(MAX_DCUTR_MESSAGE + 1))
    assert.match(big.ok ? '' : big.reason, /exceeds 4096/)
  })
  it('survives 10^5 random and mutated messages (fuzz, seeded)', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
    console.log(`# dcutr fuzz seed ${seed} (FUZZ_SEED=${seed} reproduces)`)
    const rand = mulberry32(seed)
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
    const valid = encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: [bytes(8), bytes(20)] })
    let accepted = 0
    for (let i = 0; i < 100_000; i++) {
      let input: Uint8Array
      if (i % 2 === 0) {
        input = bytes(i % 64)
      } else {
        input = Uint8Array.from(valid)
        for (let k = 0; k < 1 + (i % 4); k++) input[(i * 7 + k * 13) % input.length] ^= 1 << ((i + k) % 8)
        if (i % 3 === 0) input = input.subarray(0, i % input.length)
      }
      const r = decodeHolePunch(input)
      if (r.ok) {
        accepted++
        // whatever is accepted is a well-formed message that survives a round trip
        assert.ok(r.value.type === DCUTR_CONNECT || r.value.type === DCUTR_SYNC)
        const again = decodeHolePunch(encodeHolePunch(r.value))
        assert.ok(again.ok)
        assert.deepEqual(again.value, r.value)
      }
    }
    assert.ok(accepted > 0, 'some mutated messages are still valid')
  })
})
