/**
 * The owner key as a printable recovery phrase (`meshlan network backup --phrase`): the 32-byte
 * Ed25519 seed of a protected network's owner signing key as 24 BIP-39 English words, the last of
 * which carries an 8-bit checksum, so a mistyped or swapped word is caught before anything is
 * signed. Paper in a drawer survives what a USB stick and a password manager do not.
 *
 * The words are the key itself, not a passphrase-sealed copy: whoever reads them owns the network.
 * `meshlan network restore --phrase` needs nothing else — the restoring node is a member, so the
 * policy it holds names the network and proves the words are its owner's key.
 */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { DaemonError } from './errors.ts'

/** Words in a phrase: 256 bits of seed + 8 of checksum, 11 bits a word. */
export const PHRASE_WORDS = 24

/** The phrase cannot be read back: which word, or that the checksum fails (a word is wrong or out of place). */
export class RecoveryPhraseError extends DaemonError {
  constructor(problem: string) {
    super(
      'ERR_RECOVERY_PHRASE',
      `${problem}: type the ${PHRASE_WORDS} words exactly as printed by \`meshlan network backup --phrase\`, in order, separated by spaces`,
    )
    this.name = 'RecoveryPhraseError'
  }
}

/** The owner key's phrase. Throws for a key that is not Ed25519 (every meshlan key is). */
export function ownerKeyToPhrase(key: PrivateKey): string {
  if (key.type !== 'Ed25519') throw new RecoveryPhraseError(`a ${key.type} key has no phrase`)
  // libp2p's Ed25519 raw private key is seed ‖ public key: the seed is all a phrase needs
  return entropyToMnemonic(key.raw.subarray(0, 32), wordlist)
}

/** The owner key from its phrase (case and extra spaces forgiven); RecoveryPhraseError says what is wrong. */
export async function phraseToOwnerKey(phrase: string): Promise<PrivateKey> {
  const words = phrase
    .toLowerCase()
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '')
  if (words.length !== PHRASE_WORDS)
    throw new RecoveryPhraseError(`${words.length} words, not ${PHRASE_WORDS}`)
  const known = new Set(wordlist)
  const bad = words.findIndex((w) => !known.has(w))
  if (bad >= 0)
    throw new RecoveryPhraseError(`word ${bad + 1} (${JSON.stringify(words[bad])}) is not a phrase word`)
  let seed: Uint8Array
  try {
    seed = mnemonicToEntropy(words.join(' '), wordlist)
  } catch {
    throw new RecoveryPhraseError('the checksum does not match (a word is wrong or two are swapped)')
  }
  try {
    return await generateKeyPairFromSeed('Ed25519', seed)
  } finally {
    seed.fill(0)
  }
}
