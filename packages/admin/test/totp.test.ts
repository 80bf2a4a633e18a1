/**
 * TOTP against an independent implementation: `oathtool --totp -b SECRET` (Debian `oathtool`,
 * installed by scripts/lib/toolchain.sh). Our codes equal oathtool's, oathtool's codes are
 * accepted, a code is accepted once, a neighbouring step is accepted (clock drift), a far one not.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { URI } from 'otpauth'
import { checkTotp, newTotp, totpCode } from '../src/totp.ts'

const have = spawnSync('oathtool', ['--version']).status === 0
const skip = have
  ? false
  : 'oathtool is missing: apt-get install oathtool (scripts/lib/toolchain.sh installs it)'

function oathtool(secret: string, at: Date): string {
  const iso = at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', iso], { encoding: 'utf8' }).trim()
}

describe('TOTP (RFC 6238) against oathtool', { skip }, () => {
  it('our code for a time is oathtool code for that time, over many steps', () => {
    const { secret } = newTotp('alice')
    const t0 = Date.UTC(2026, 10, 30, 12, 0, 0)
    for (let i = 0; i < 5; i++) {
      const at = t0 + i * 30_000
      assert.equal(totpCode(secret, at), oathtool(secret, new Date(at)))
    }
  })

  it('oathtool code is accepted once; the next step accepted; a far one refused', () => {
    const { secret } = newTotp('alice')
    const now = Date.now()
    const code = oathtool(secret, new Date(now))
    const step = checkTotp(secret, code, null, now)
    assert.notEqual(step, null, 'oathtool code accepted')
    assert.equal(checkTotp(secret, code, step, now), null, 'the same code is not accepted twice')
    const next = oathtool(secret, new Date(now + 30_000))
    assert.notEqual(checkTotp(secret, next, step, now), null, 'one step ahead (drift) accepted')
    const far = oathtool(secret, new Date(now + 10 * 30_000))
    if (far !== code && far !== next) assert.equal(checkTotp(secret, far, null, now), null)
  })

  it('the URI carries the secret for an app: SHA1, 6 digits, 30 s, issuer meshlan', () => {
    const { secret, uri } = newTotp('alice')
    assert.match(uri, /^otpauth:\/\/totp\/meshlan:alice\?/)
    const t = URI.parse(uri)
    assert.equal(t.secret.base32, secret)
    assert.equal(t.issuer, 'meshlan')
    assert.equal(t.digits, 6)
    assert.equal(secret.length, 32, '160-bit secret')
  })
})
