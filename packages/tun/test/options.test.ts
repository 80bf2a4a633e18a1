import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { openTun, parseCidr, TunOptionsError } from '../src/index.ts'

// Option checks happen before /dev/net/tun is touched, so these run without root.
describe('openTun options (no root needed)', () => {
  it('refuses checksum/TSO offloads without virtio-net headers', () => {
    assert.throws(
      () => openTun({ name: 'mlopt0', offload: { vnetHdr: false } }),
      (e: unknown) => {
        assert.ok(e instanceof TunOptionsError)
        assert.equal(e.name, 'TunOptionsError')
        assert.equal(e.code, 'ERR_TUN_OPTIONS')
        assert.match(e.message, /vnetHdr/)
        return true
      },
    )
  })

  it('refuses TSO without checksum offload', () => {
    assert.throws(() => openTun({ name: 'mlopt0', offload: { csum: false, tso4: true } }), TunOptionsError)
  })

  it('refuses bad names, numbers and addresses', () => {
    assert.throws(() => openTun({ name: 'a-name-that-is-too-long' }), TunOptionsError)
    assert.throws(() => openTun({ name: 'bad/name' }), TunOptionsError)
    assert.throws(() => openTun({ mtu: 10 }), TunOptionsError)
    assert.throws(() => openTun({ batchSize: 0 }), TunOptionsError)
    assert.throws(() => openTun({ headroom: 1.5 }), TunOptionsError)
    assert.throws(() => openTun({ address: '10.0.0.1' }), /missing \/prefix/)
    assert.throws(() => openTun({ address: '10.0.0.300/24' }), TunOptionsError)
  })

  it('parses CIDRs into values', () => {
    assert.deepEqual(parseCidr('10.144.0.1/16'), { ok: true, address: '10.144.0.1', prefix: 16, family: 4 })
    assert.deepEqual(parseCidr('fd00::1/64'), { ok: true, address: 'fd00::1', prefix: 64, family: 6 })
    assert.equal(parseCidr('fd00::1/129').ok, false)
    assert.equal(parseCidr('x/1').ok, false)
  })
})
