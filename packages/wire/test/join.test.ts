import assert from 'node:assert/strict'
import { createHash, hkdfSync } from 'node:crypto'
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
import { parseBootstrapAddr } from '../src/join.ts'
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
    bootstrap: [
      `/ip4/192.0.2.1/tcp/4001/p2p/${w.ownerId}`,
      `/ip6/2001:db8::1/tcp/4001/p2p/${w.ownerId}`,
      `/dns4/nas.example.org/tcp/443/wss/p2p/${w.nodeId}`,
    ],
  }
}

/** A string with a correct checksum around any JSON payload (to reach the field checks). */
function withChecksum(json: unknown): string {
  const payload = new TextEncoder().encode(JSON.stringify(json))
  const sum = createHash('sha256').update(payload).digest().subarray(0, 4)
  return `mlj2_${toBase64Url(new Uint8Array([...payload, ...sum]))}`
}

function jsonOf(i: JoinInfo) {
  return { n: i.networkId, k: i.keyName, s: toBase64Url(i.secret), o: i.ownerPeerId, b: i.bootstrap }
}

describe('join strings', () => {
  it('round trip, tolerating surrounding whitespace', () => {
    const s = encodeJoinString(info())
    assert.match(s, /^mlj2_[A-Za-z0-9_-]+$/)
    const r = parseJoinString(`  ${s}\n`)
    assert.ok(r.ok)
    assert.deepEqual(r.value, info())
  })

  it('gives a bootstrap address without /p2p/ the owner id when encoding', () => {
    const r = parseJoinString(encodeJoinString({ ...info(), bootstrap: ['/ip4/192.0.2.1/tcp/4001'] }))
    assert.ok(r.ok)
    assert.deepEqual(r.value.bootstrap, [`/ip4/192.0.2.1/tcp/4001/p2p/${w.ownerId}`])
  })

  it('refuses a string corrupted with `tr a b` (and every other single-character change)', () => {
    const s = encodeJoinString(info())
    const tr = s.replaceAll('a', 'b')
    assert.notEqual(tr, s, 'the sample contains an a')
    const r = parseJoinString(tr)
    assert.ok(!r.ok)
    assert.match(
      r.reason,
      /checksum mismatch: the join string was changed or cut — copy it again|not base64url/,
    )
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    let refused = 0
    for (let i = 5; i < s.length; i++) {
      const c = alphabet[(alphabet.indexOf(s[i]) + 1 + (i % 63)) % 64]
      const changed = s.slice(0, i) + c + s.slice(i + 1)
      const p = parseJoinString(changed)
      assert.ok(!p.ok, `a change at ${i} was accepted`)
      refused++
    }
    assert.equal(refused, s.length - 5)
    for (let cut = 1; cut < 12; cut++) assert.equal(parseJoinString(s.slice(0, -cut)).ok, false)
  })

  it('refuses old mlj1_ strings with a message saying to ask for a new one', () => {
    const r = parseJoinString(`mlj1_${toBase64Url(new TextEncoder().encode(JSON.stringify(jsonOf(info()))))}`)
    assert.ok(!r.ok)
    assert.match(r.reason, /older format \(mlj1_.*ask the network owner for a new one/)
  })

  it('says which bootstrap address is wrong and why', () => {
    const id = w.ownerId
    const cases: [string, RegExp][] = [
      ['/', /it has an empty component/],
      ['ip4/1.2.3.4/tcp/1', /does not start with \//],
      [`/ip4/1.2.3/tcp/1/p2p/${id}`, /\/ip4: "1\.2\.3" is not an IPv4 address/],
      [`/ip4/1.2.3.4/tcp/70000/p2p/${id}`, /\/tcp: "70000" is not a port/],
      [`/ip4/1.2.3.4/tcp/1/p2p/QmNotAPeer`, /\/p2p: "QmNotAPeer" is not an Ed25519 peer id/],
      ['/ip4/1.2.3.4/tcp/1', /does not end in \/p2p\/<peer id>/],
      [`/ip4/1.2.3.4/udp/1/quic-v1/p2p/${id}`, /unknown or unsupported protocol \/udp/],
      [`/ip4/1.2.3.4/p2p/${id}`, /no \/tcp\/<port> after \/ip4/],
      [`/p2p/${id}`, /no network address before \/p2p/],
      [`/ip4/1.2.3.4/tcp/1/p2p/${id}/p2p/${id}`, /more than one \/p2p|unknown/],
      [`/ip6/zz::1/tcp/1/p2p/${id}`, /\/ip6: "zz::1" is not an IPv6 address/],
      [`/dns4/-bad-/tcp/1/p2p/${id}`, /is not a host name/],
      [`/ip4/1.2.3.4/tcp`, /\/tcp has no value/],
    ]
    for (const [addr, re] of cases) {
      const j = jsonOf(info())
      j.b = [j.b[0], addr]
      const r = parseJoinString(withChecksum(j))
      assert.ok(!r.ok, addr)
      assert.match(r.reason, /^bootstrap address 2 ".*" is not a multiaddr meshlan can dial: /, addr)
      assert.match(r.reason, re, addr)
      assert.throws(() =>
        encodeJoinString({ ...info(), bootstrap: [addr.includes('/p2p/') ? addr : `${addr}/p2p/x`] }),
      )
    }
    assert.ok(parseBootstrapAddr(`/memory/meshlan-test-1/p2p/${id}`).ok)
  })

  it('explains what else is wrong', () => {
    const s = encodeJoinString(info())
    const cases: [string, RegExp][] = [
      ['hello', /not a meshlan join string \(it should start with mlj2_\)/],
      ['', /should start with mlj2_/],
      ['mlj2_!!!', /not base64url/],
      [s.slice(0, s.length - 7), /checksum mismatch|not base64url/],
      ['mlj2_', /checksum mismatch/],
      [withChecksum({ n: 'x' }), /invalid join string/],
      [`mlj2_${'A'.repeat(9000)}`, /too long/],
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
