import assert from 'node:assert/strict'
import { hkdfSync } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import {
  deriveMeshKey,
  encodeJoinString,
  InvalidMessageError,
  type JoinInfo,
  meshKeySeed,
  networkIdFrom,
  newMeshKeySecret,
  parseJoinString,
  sanitizeName,
  toBase64Url,
} from '../src/index.ts'
import { type World, world } from './fixtures.ts'

let w: World
before(async () => {
  w = await world()
})

function info(): JoinInfo {
  return {
    networkId: w.networkId,
    keyName: 'laptop',
    secret: w.secret,
    ownerPeerId: w.ownerId,
    bootstrap: ['/ip4/192.0.2.1/tcp/4001', '/ip4/192.0.2.1/udp/4001/quic-v1'],
  }
}

describe('join strings', () => {
  it('round trip, tolerating surrounding whitespace', () => {
    const s = encodeJoinString(info())
    assert.ok(s.startsWith('mlj1_'))
    assert.match(s, /^mlj1_[A-Za-z0-9_-]+$/)
    const r = parseJoinString(`  ${s}\n`)
    assert.ok(r.ok)
    assert.deepEqual(r.value, info())
  })

  it('explains what is wrong', () => {
    const s = encodeJoinString(info())
    const cases: [string, RegExp][] = [
      ['hello', /not a meshlan join string \(it should start with mlj1_\)/],
      ['', /should start with mlj1_/],
      ['mlj1_!!!', /not base64url/],
      [s.slice(0, s.length - 7), /damaged|invalid/],
      [`mlj1_${toBase64Url(new TextEncoder().encode('{"n":"x"}'))}`, /invalid join string/],
      [`mlj1_${'A'.repeat(9000)}`, /too long/],
    ]
    for (const [text, re] of cases) {
      const r = parseJoinString(text)
      assert.ok(!r.ok, text)
      assert.match(r.reason, re)
    }
    assert.equal(parseJoinString(42 as unknown as string).ok, false)
  })

  it('refuses to encode bad info', () => {
    assert.throws(() => encodeJoinString({ ...info(), secret: new Uint8Array(31) }), InvalidMessageError)
    assert.throws(() => encodeJoinString({ ...info(), keyName: 'No Spaces' }), /k:/)
    assert.throws(() => encodeJoinString({ ...info(), ownerPeerId: 'x' }), /o:/)
  })
})

describe('mesh keys and network ids', () => {
  it('derives the mesh key as Ed25519 from HKDF-SHA256(secret, salt, info=networkId)', async () => {
    const seed = new Uint8Array(hkdfSync('sha256', w.secret, 'meshlan mesh key v1', w.networkId, 32))
    assert.deepEqual(meshKeySeed(w.secret, w.networkId), seed)
    const expected = await generateKeyPairFromSeed('Ed25519', seed)
    const k = await deriveMeshKey(w.secret, w.networkId)
    assert.ok(k.equals(expected))
    assert.ok(k.publicKey.equals(w.mesh.publicKey))
    const other = await deriveMeshKey(w.secret, `${w.networkId}x`)
    assert.ok(!other.equals(k))
    assert.throws(() => meshKeySeed(new Uint8Array(16), w.networkId), InvalidMessageError)
  })

  it('makes fresh 32-byte secrets', () => {
    const a = newMeshKeySecret()
    assert.equal(a.length, 32)
    assert.notDeepEqual(a, newMeshKeySecret())
  })

  it('network ids are short, stable and input-sensitive', () => {
    const a = networkIdFrom(w.ownerId, 'home', 1_700_000_000_000)
    assert.match(a, /^n[a-z2-7]{16}$/)
    assert.equal(a, networkIdFrom(w.ownerId, 'home', 1_700_000_000_000))
    assert.notEqual(a, networkIdFrom(w.ownerId, 'home', 1_700_000_000_001))
    assert.notEqual(a, networkIdFrom(w.ownerId, 'homf', 1_700_000_000_000))
    // Fixed vector (docs/protocol.md).
    assert.equal(networkIdFrom('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', 'home', 0), VECTOR)
  })

  it('sanitizes names', () => {
    assert.equal(sanitizeName('My-Laptop.local'), 'my-laptop-local')
    assert.equal(sanitizeName('--__--'), 'node')
    assert.equal(sanitizeName('x'.repeat(100)).length, 63)
    assert.equal(sanitizeName('', 'k'), 'k')
  })
})

const VECTOR = 'npvnhqbzgqbfpwj2h'
