/** peerIdOf(): one parse per member, a bounded cache, the same errors as peerIdFromString. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PEER_ID_CACHE_MAX } from '../src/constants.ts'
import { peerIdOf } from '../src/peer-ids.ts'

describe('peerIdOf', () => {
  it('returns the parsed id, the same object on the next call', async () => {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const a = peerIdOf(id)
    assert.equal(a.toString(), id)
    assert.equal(peerIdOf(id), a, 'parsed once')
  })

  it('a string that is not a peer id throws, and is not cached', () => {
    assert.throws(() => peerIdOf('not-a-peer-id'))
    assert.throws(() => peerIdOf('not-a-peer-id'))
  })

  it(`holds at most ${PEER_ID_CACHE_MAX} ids: past that it starts over`, async () => {
    const first = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const p = peerIdOf(first)
    for (let i = 0; i < PEER_ID_CACHE_MAX; i++) {
      peerIdOf(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
    }
    const again = peerIdOf(first)
    assert.notEqual(again, p, 'the cache was cleared rather than grown')
    assert.ok(again.equals(p))
  })
})
