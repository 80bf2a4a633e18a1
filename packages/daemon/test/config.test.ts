import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_MTU, DEFAULT_TUN_NAME } from '@meshlan/mesh'
import { parseConfig } from '../src/config.ts'
import { DEFAULT_LISTEN } from '../src/constants.ts'
import { parseDuration } from '../src/duration.ts'
import { parseIpRoutes } from '../src/host.ts'

describe('config.toml', () => {
  it('an empty file is all defaults, taken from @meshlan/mesh', () => {
    const r = parseConfig('')
    assert.ok(r.ok)
    assert.deepEqual(r.value.listen, DEFAULT_LISTEN)
    assert.deepEqual(r.value.tun, { enabled: true, name: DEFAULT_TUN_NAME, mtu: DEFAULT_MTU, offload: true })
    assert.equal(r.value.relay, 'auto', 'relays without configuration: "auto" by default')
    assert.deepEqual(r.value.dns, { enabled: true, host_integration: 'auto' })
    assert.equal(r.value.announce, null)
    assert.equal(r.value.log_level, null)
    assert.ok(r.value.name.length > 0)
  })

  it('reads every setting', () => {
    const r = parseConfig(
      [
        'name = "box"',
        'listen = ["/ip4/127.0.0.1/tcp/0"]',
        'announce = ["/dns4/example.org/tcp/7946"]',
        'log_level = "debug"',
        'relay = true',
        '[tun]',
        'enabled = false',
        'name = "mesh1"',
        'mtu = 1280',
        'offload = false',
        '[dns]',
        'enabled = false',
        'host_integration = "off"',
      ].join('\n'),
    )
    assert.ok(r.ok, JSON.stringify(r))
    assert.equal(r.value.name, 'box')
    assert.deepEqual(r.value.listen, ['/ip4/127.0.0.1/tcp/0'])
    assert.deepEqual(r.value.announce, ['/dns4/example.org/tcp/7946'])
    assert.deepEqual(r.value.tun, { enabled: false, name: 'mesh1', mtu: 1280, offload: false })
    assert.equal(r.value.relay, true)
    assert.deepEqual(r.value.dns, { enabled: false, host_integration: 'off' })
    assert.equal(r.value.log_level, 'debug')
  })

  const bad: Array<[string, string, RegExp]> = [
    ['[tun]\nmtu = 100', 'tun.mtu', />=\s*576|too small/i],
    ['[tun]\nmtu = "big"', 'tun.mtu', /number/i],
    ['listen = "/ip4/0.0.0.0/tcp/1"', 'listen', /array/i],
    ['listen = ["0.0.0.0:7946"]', 'listen.0', /multiaddr/],
    ['name = "Not A Name"', 'name', /lowercase/],
    ['log_level = "loud"', 'log_level', /error|warn|info|debug/],
    ['colour = "blue"', 'colour', /unknown setting/],
    ['[tun]\nnmae = "x"', 'tun.nmae', /unknown setting/],
    ['relay = "yes"', 'relay', /true, false or "auto"/],
  ]
  for (const [text, field, why] of bad) {
    it(`names the field: ${field}`, () => {
      const r = parseConfig(text)
      assert.ok(!r.ok)
      assert.equal(r.field, field)
      assert.match(r.reason, why)
    })
  }

  it('relay: "auto", true (force) or false (opt out)', () => {
    for (const [text, want] of [
      ['relay = "auto"', 'auto'],
      ['relay = true', true],
      ['relay = false', false],
    ] as const) {
      const r = parseConfig(text)
      assert.ok(r.ok, text)
      assert.equal(r.value.relay, want)
    }
  })

  it('reports broken TOML', () => {
    const r = parseConfig('name = ')
    assert.ok(!r.ok)
    assert.match(r.reason, /not valid TOML/)
  })
})

describe('durations', () => {
  it('parses units and combinations', () => {
    assert.deepEqual(parseDuration('24h'), { ok: true, value: 24 * 3600_000 })
    assert.deepEqual(parseDuration('7d'), { ok: true, value: 7 * 86_400_000 })
    assert.deepEqual(parseDuration('1d12h'), { ok: true, value: 36 * 3600_000 })
    assert.equal(parseDuration('soon').ok, false)
    assert.equal(parseDuration('0s').ok, false)
    assert.equal(parseDuration('').ok, false)
  })
})

describe('host routes', () => {
  it('turns `ip -j route` into CIDRs, skipping default and local entries', () => {
    const json = JSON.stringify([
      { dst: 'default', gateway: '192.168.1.1', dev: 'eth0' },
      { dst: '192.168.1.0/24', dev: 'eth0' },
      { dst: '172.17.0.5', dev: 'docker0' },
      { type: 'local', dst: '127.0.0.1', dev: 'lo' },
      { dst: 'fe80::/64', dev: 'eth0' },
    ])
    assert.deepEqual(parseIpRoutes(json), ['192.168.1.0/24', '172.17.0.5/32'])
    assert.deepEqual(parseIpRoutes('not json'), [])
  })
})
