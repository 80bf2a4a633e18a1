/** Fixed vectors published in docs/protocol.md; a change here is a protocol change. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  deriveMeshKey,
  encodeFrame,
  encodeJoinString,
  meshKeySeed,
  networkIdFrom,
  parseJoinString,
  signingBytes,
  toBase64,
} from '../src/index.ts'

const OWNER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN' // Ed25519 seed = 32 zero bytes
const NETWORK_ID = 'npvnhqbzgqbfpwj2h'
const SECRET = new Uint8Array(32).fill(7)
const JOIN =
  'mlj1_eyJuIjoibnB2bmhxYnpncWJmcHdqMmgiLCJrIjoibGFwdG9wIiwicyI6IkJ3Y0hCd2NIQndjSEJ3Y0hCd2NIQndjSEJ3Y0hCd2NIQndjSEJ3Y0hCd2MiLCJvIjoiMTJEM0tvb1dEcEo3QXM3QldBd1JNZnUxVlUyV0NxTmp2cTM4N0pFWUtEQmo0a3g2blhUTiIsImIiOlsiL2lwNC8xOTIuMC4yLjEvdGNwLzc5NDYiXX0'

describe('protocol vectors', () => {
  it('network id', () => {
    assert.equal(networkIdFrom(OWNER, 'home', 0), NETWORK_ID)
  })

  it('mesh key', async () => {
    assert.equal(
      Buffer.from(meshKeySeed(SECRET, NETWORK_ID)).toString('hex'),
      '977bb6ca85c81a6545fa0be829088cb724e46d7fbd51966e1d2d25c5293a870b',
    )
    const k = await deriveMeshKey(SECRET, NETWORK_ID)
    assert.equal(toBase64(k.publicKey.raw), 'B802qXzD2hWbGh/Ifw1JM79cokdID2eK62ePxSxosFw=')
  })

  it('join string', () => {
    const info = {
      networkId: NETWORK_ID,
      keyName: 'laptop',
      secret: SECRET,
      ownerPeerId: OWNER,
      bootstrap: ['/ip4/192.0.2.1/tcp/7946'],
    }
    assert.equal(encodeJoinString(info), JOIN)
    assert.deepEqual(parseJoinString(JOIN), { ok: true, value: info })
  })

  it('frame header and signing domain', () => {
    assert.deepEqual([...encodeFrame(2, Uint8Array.of(0x7b, 0x7d))], [0x02, 0x00, 0x00, 0x02, 0x7b, 0x7d])
    assert.equal(
      Buffer.from(signingBytes('record', new TextEncoder().encode('{}'))).toString(),
      'meshlan/record/v1\n{}',
    )
  })
})
