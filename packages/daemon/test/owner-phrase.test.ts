/** The owner key's recovery phrase: round trip to the same peer id, and each way a phrase goes wrong. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { ownerKeyToPhrase, PHRASE_WORDS, phraseToOwnerKey } from '../src/owner-phrase.ts'

describe('owner recovery phrase', () => {
  it('24 words that give back the same key (same peer id, same signatures)', async () => {
    for (let i = 0; i < 5; i++) {
      const key = await generateKeyPair('Ed25519')
      const phrase = ownerKeyToPhrase(key)
      assert.equal(phrase.split(' ').length, PHRASE_WORDS)
      const back = await phraseToOwnerKey(`  ${phrase.toUpperCase().replaceAll(' ', '   ')}\n`)
      assert.equal(peerIdFromPrivateKey(back).toString(), peerIdFromPrivateKey(key).toString())
      const msg = new TextEncoder().encode('policy v7')
      assert.ok(await key.publicKey.verify(msg, await back.sign(msg)))
    }
  })

  it('names what is wrong: count, an unknown word, a wrong or swapped word (checksum)', async () => {
    const words = ownerKeyToPhrase(await generateKeyPair('Ed25519')).split(' ')
    await assert.rejects(phraseToOwnerKey(words.slice(1).join(' ')), /23 words, not 24/)
    const typo = [...words]
    typo[4] = 'meshlanx'
    await assert.rejects(phraseToOwnerKey(typo.join(' ')), /word 5 \("meshlanx"\) is not a phrase word/)
    // another real word in place of one: caught by the checksum (2^-8 chance it slips through, so
    // try words until one fails; at most a handful)
    let caught = false
    for (const w of wordlist.slice(0, 64)) {
      if (w === words[10]) continue
      const wrong = [...words]
      wrong[10] = w
      try {
        await phraseToOwnerKey(wrong.join(' '))
      } catch (err) {
        assert.match((err as Error).message, /checksum does not match/)
        caught = true
        break
      }
    }
    assert.ok(caught)
    assert.equal((await phraseToOwnerKey(words.join(' '))).type, 'Ed25519')
  })
})
