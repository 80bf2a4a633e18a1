import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { decryptOwnerKey, encryptOwnerKey, OwnerKeyFileError, WeakPassphraseError } from '../src/owner-key.ts'
import { WrongPassphraseError } from '../src/owner-lock.ts'

const FAST = { log2N: 10, r: 8, p: 1 } // the format, not the cost, is under test here

describe('owner key at rest', () => {
  it('is ciphertext: no key bytes in the file, and it decrypts with the passphrase', async () => {
    const key = await generateKeyPair('Ed25519')
    const file = Buffer.from(await encryptOwnerKey(key, 'correct horse battery', FAST))
    assert.equal(file.subarray(0, 8).toString('ascii'), 'MLOWNKEY')
    assert.equal(file[8], 1, 'format version 1')
    const raw = Buffer.from(key.raw) // seed + public key
    for (const part of [raw.subarray(0, 32), raw.subarray(32), Buffer.from(privateKeyToProtobuf(key))]) {
      for (let i = 0; i + 8 <= part.length; i += 4) {
        assert.equal(file.indexOf(part.subarray(i, i + 8)), -1, 'no 8-byte run of the key is in the file')
      }
    }
    const back = await decryptOwnerKey(file, 'correct horse battery')
    assert.ok(back.equals(key))
  })

  it('refuses a wrong passphrase with WrongPassphraseError', async () => {
    const file = await encryptOwnerKey(await generateKeyPair('Ed25519'), 'correct horse battery', FAST)
    await assert.rejects(decryptOwnerKey(file, 'wrong horse battery'), WrongPassphraseError)
  })

  it('refuses a tampered file with a clear error, wherever the change is', async () => {
    const file = Buffer.from(
      await encryptOwnerKey(await generateKeyPair('Ed25519'), 'correct horse battery', FAST),
    )
    for (const at of [10, 20, 50, 70, file.length - 20, file.length - 1]) {
      const t = Buffer.from(file)
      t[at] ^= 0x01
      await assert.rejects(decryptOwnerKey(t, 'correct horse battery', '/x/owner.key'), (e: Error) => {
        assert.ok(e instanceof OwnerKeyFileError, `byte ${at}: ${e.name}`)
        assert.match(e.message, /^\/x\/owner\.key: .*(changed or damaged|scrypt)/)
        return true
      })
    }
    await assert.rejects(decryptOwnerKey(file.subarray(0, 40), 'x'), OwnerKeyFileError)
  })

  it('a ciphertext changed behind a recomputed digest fails authentication, not as a wrong passphrase', async () => {
    const { createHash } = await import('node:crypto')
    const file = Buffer.from(
      await encryptOwnerKey(await generateKeyPair('Ed25519'), 'correct horse battery', FAST),
    )
    const body = Buffer.from(file.subarray(0, file.length - 16))
    body[60] ^= 0x01
    const forged = Buffer.concat([body, createHash('sha256').update(body).digest().subarray(0, 16)])
    await assert.rejects(decryptOwnerKey(forged, 'correct horse battery'), /does not authenticate/)
  })

  it('refuses passphrases shorter than 8 characters', async () => {
    await assert.rejects(
      encryptOwnerKey(await generateKeyPair('Ed25519'), 'short', FAST),
      WeakPassphraseError,
    )
  })
})
