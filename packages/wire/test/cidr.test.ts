import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cidrsOverlap, cidrWithin, uint32ToIp as ip, parseCidr } from '../src/index.ts'

function block(text: string) {
  const c = parseCidr(text)
  assert.ok(c.ok, text)
  return c
}

/** The block as the closed range [lo, hi] of its addresses: the obvious model to compare with. */
function range(c: { base: number; prefix: number }): [number, number] {
  return [c.base, c.base + 2 ** (32 - c.prefix) - 1]
}

describe('cidr: overlap and containment', () => {
  it('examples', () => {
    assert.ok(cidrsOverlap(block('10.144.0.0/16'), block('10.0.0.0/8')))
    assert.ok(cidrsOverlap(block('10.0.0.0/8'), block('10.144.3.0/24')))
    assert.ok(!cidrsOverlap(block('10.144.0.0/16'), block('10.145.0.0/16')))
    assert.ok(cidrsOverlap(block('0.0.0.0/0'), block('1.2.3.4/32')))
    assert.ok(cidrsOverlap(block('100.64.0.0/10'), block('100.100.0.0/16')), "Tailscale's range")
    assert.ok(cidrWithin(block('10.144.0.0/16'), block('10.0.0.0/8')))
    assert.ok(!cidrWithin(block('10.0.0.0/8'), block('10.144.0.0/16')), 'the wider one is not inside')
    assert.ok(!cidrWithin(block('172.32.0.0/16'), block('172.16.0.0/12')))
    assert.ok(cidrWithin(block('172.31.0.0/16'), block('172.16.0.0/12')))
  })

  it('agree with address ranges on random blocks (seeded)', () => {
    const seed = Number(process.env.CIDR_SEED ?? Date.now() % 2 ** 31)
    console.log(`cidr overlap seed ${seed} (CIDR_SEED=${seed} to replay)`)
    let x = seed || 1
    const next = (): number => {
      // xorshift32: deterministic from the seed
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      return x >>> 0
    }
    for (let i = 0; i < 20_000; i++) {
      // near addresses so overlaps are common: a shared random /8 and a random low part
      const hi = next() & 0xff000000
      const a = block(`${ip((hi | (next() & 0xffffff)) >>> 0)}/${next() % 33}`)
      const b = block(`${ip((hi | (next() & 0xffffff)) >>> 0)}/${next() % 33}`)
      const [alo, ahi] = range(a)
      const [blo, bhi] = range(b)
      assert.equal(
        cidrsOverlap(a, b),
        alo <= bhi && blo <= ahi,
        `${ip(a.base)}/${a.prefix} ~ ${ip(b.base)}/${b.prefix}`,
      )
      assert.equal(
        cidrWithin(a, b),
        blo <= alo && ahi <= bhi,
        `${ip(a.base)}/${a.prefix} in ${ip(b.base)}/${b.prefix}`,
      )
    }
  })
})
