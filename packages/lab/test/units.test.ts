import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LabAddressError, LabNameError, LabTimeoutError, parseLabSpec, waitFor } from '../src/index.ts'
import { formatIpv4, inCidr, parseCidr, parseIpv4 } from '../src/ipv4.ts'
import { formatIpv6, hostIpv6, parseCidr6, parseIpv6 } from '../src/ipv6.ts'
import { checkPrefix, ifname, isLabNamespace } from '../src/names.ts'

describe('names', () => {
  it('accepts short prefixes and rejects long or odd ones', () => {
    checkPrefix('nat1')
    checkPrefix('abcdef')
    assert.throws(() => checkPrefix('abcdefg'), LabNameError)
    assert.throws(() => checkPrefix('1abc'), LabNameError)
    assert.throws(() => checkPrefix('a-b'), LabNameError)
    assert.throws(() => checkPrefix(''), LabNameError)
  })
  it('matches only its own namespaces', () => {
    assert.ok(isLabNamespace('ab', 'absw'))
    assert.ok(isLabNamespace('ab', 'ab-host1'))
    assert.ok(!isLabNamespace('ab', 'abc-host1'))
    assert.ok(!isLabNamespace('ab', 'abcsw'))
    assert.ok(!isLabNamespace('ab', 'ab-'))
  })
  it('keeps interface names within 15 chars', () => {
    assert.equal(ifname('abcdef', 'p', 12345), 'abcdefp12345')
    assert.throws(() => ifname('abcdef', 'p', 123456789), LabNameError)
  })
})

describe('ipv4', () => {
  it('parses addresses and CIDRs', () => {
    assert.equal(parseIpv4('198.18.0.1'), ((198 << 24) >>> 0) + (18 << 16) + 1)
    assert.equal(parseIpv4('198.18.0.256'), undefined)
    assert.equal(parseIpv4('198.18.0'), undefined)
    assert.equal(formatIpv4(parseIpv4('198.19.255.254')!), '198.19.255.254')
    const c = parseCidr('198.18.1.0/24')
    assert.ok(inCidr(c, parseIpv4('198.18.1.1')!))
    assert.ok(!inCidr(c, parseIpv4('198.18.1.0')!))
    assert.ok(!inCidr(c, parseIpv4('198.18.1.255')!))
    assert.throws(() => parseCidr('198.18.1.1/24'), LabAddressError)
    assert.throws(() => parseCidr('198.18.1.0/31'), LabAddressError)
    assert.throws(() => parseCidr('nope'), LabAddressError)
  })
})

describe('spec', () => {
  it('accepts a good spec and explains a bad one', () => {
    const good = parseLabSpec({
      segments: [{ name: 'public', cidr: '198.18.0.0/24' }],
      routers: [{ name: 'r', wan: 'public', lan: 'lan', symmetric: true }],
      hosts: [{ name: 'a', segment: 'public', attach: [{ segment: 'lan' }] }],
    })
    assert.equal(good.ok, true)
    assert.deepEqual(parseLabSpec([]), { ok: false, error: 'spec must be a JSON object' })
    const bad = parseLabSpec({ segments: [{ name: 'x' }] })
    assert.equal(bad.ok, false)
    assert.match(bad.ok ? '' : bad.error, /segments\[0\]/)
    const badRouter = parseLabSpec({
      segments: [],
      routers: [{ name: 'r', wan: 'a', lan: 'b', symmetric: 'yes' }],
    })
    assert.equal(badRouter.ok, false)
    const badFilter = parseLabSpec({
      segments: [],
      routers: [{ name: 'r', wan: 'a', lan: 'b', filter: 'rst' }],
    })
    assert.equal(badFilter.ok, false)
    assert.equal(
      parseLabSpec({ segments: [], routers: [{ name: 'r', wan: 'a', lan: 'b', filter: 'reject' }] }).ok,
      true,
    )
  })
})

describe('waitFor', () => {
  it('returns the first truthy value and times out otherwise', async () => {
    let n = 0
    assert.equal(await waitFor(() => (++n >= 3 ? n : false), { intervalMs: 1 }), 3)
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 30, what: 'nothing' }),
      LabTimeoutError,
    )
  })
})

describe('IPv6 prefixes of lab segments', () => {
  it('parses and prints addresses as ip and ss do (RFC 5952)', () => {
    for (const t of [
      '2001:2:0:60::a',
      '2001:2::1',
      '::1',
      '::',
      'fe80::1:2',
      '2001:db8:0:1:1:1:1:1',
      '1:0:0:2::3',
    ])
      assert.equal(formatIpv6(parseIpv6(t) ?? -1n), t)
    assert.equal(formatIpv6(parseIpv6('2001:0002:0000:0060:0000:0000:0000:000A') ?? -1n), '2001:2:0:60::a')
    assert.equal(parseIpv6('198.51.100.7'), undefined)
    assert.equal(parseIpv6('2001:2::1::2'), undefined)
  })

  it('a prefix is x::/48..120 with no host bits; a host gets its IPv4 host number', () => {
    const c = parseCidr6('2001:2:0:60::/64')
    assert.equal(c.bits, 64)
    assert.throws(() => parseCidr6('2001:2:0:60::1/64'), LabAddressError)
    assert.throws(() => parseCidr6('2001:2::/16'), LabAddressError)
    assert.throws(() => parseCidr6('10.0.0.0/8'), LabAddressError)
    assert.equal(hostIpv6(c, 10), '2001:2:0:60::a')
  })
})
