/** checkSubnet: which overlay subnets `network create` accepts, and what it says otherwise. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkSubnet } from '../src/network.ts'

describe('checkSubnet', () => {
  it('accepts private ranges (RFC 1918)', () => {
    for (const s of ['10.144.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '172.31.255.0/24', '192.168.77.0/24'])
      assert.doesNotThrow(() => checkSubnet(s), s)
  })

  it('refuses public ranges unless forced, saying what to use', () => {
    for (const s of ['8.8.8.0/24', '1.0.0.0/8', '172.32.0.0/16', '192.169.0.0/16', '11.0.0.0/8']) {
      assert.throws(
        () => checkSubnet(s),
        (e: Error) =>
          /not a private range.*10\.0\.0\.0\/8, 172\.16\.0\.0\/12 or 192\.168\.0\.0\/16.*--force/.test(
            e.message,
          ),
        s,
      )
      assert.doesNotThrow(() => checkSubnet(s, [], true), s)
    }
  })

  it('refuses a range that only partly lies inside a private one', () => {
    assert.throws(() => checkSubnet('172.0.0.0/8'), /not a private range/)
    assert.throws(() => checkSubnet('192.0.0.0/8'), /not a private range/)
  })

  it("still refuses CGNAT (Tailscale's 100.64.0.0/10) and host routes unless forced", () => {
    assert.throws(() => checkSubnet('100.64.0.0/16'), /Tailscale/)
    assert.doesNotThrow(() => checkSubnet('100.64.0.0/16', [], true))
    assert.throws(() => checkSubnet('10.1.0.0/16', ['10.1.2.0/24']), /host route 10\.1\.2\.0\/24/)
  })
})
