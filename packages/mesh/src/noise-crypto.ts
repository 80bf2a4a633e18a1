/**
 * The ChaCha20-Poly1305 that Noise encrypts every transport message with, through
 * @meshlan/tun's AEAD (OpenSSL inside Node, output where we say) instead of Noise's default.
 *
 * Why (docs/benchmarks.md, session 8): the default seals with node:crypto above 1200 bytes —
 * a Buffer per update, final and tag, then a concatenation: three allocations and a copy per
 * 64 KiB message — and opens into a fresh Buffer although Noise hands it the ciphertext's own
 * bytes to decrypt into. Below 1200 bytes it uses a WebAssembly ChaCha, 2.3× slower than
 * OpenSSL at 100 bytes on our machines. Here a message is sealed into one buffer and opened in
 * place.
 *
 * This is Noise's documented extension point (`noise({ crypto })`, `ICryptoInterface`); the
 * rest of the interface (hash, HKDF, X25519) stays Noise's default. Contract test:
 * test/noise-crypto.test.ts (byte-equal to node:crypto both ways, tampering refused, in place,
 * split inputs, a Noise connection end to end).
 */
import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { AEAD_MAX_PARTS, AEAD_TAG_LENGTH, type Aead, chacha20Poly1305 } from '@meshlan/tun'
import type { Uint8ArrayList } from 'uint8arraylist'
import { NoiseDecryptError } from './errors.ts'

/** The parts of a list, or one joined buffer when there are more than the addon takes. */
function partsOf(list: Uint8ArrayList): Uint8Array | Uint8Array[] {
  const parts: Uint8Array[] = []
  for (const b of list) {
    if (parts.length === AEAD_MAX_PARTS) return list.subarray()
    parts.push(b)
  }
  return parts
}

/** Noise's crypto with the AEAD replaced; `aead` is for tests (default: the addon's). */
export function noiseCrypto(aead: Aead = chacha20Poly1305()): ICryptoInterface {
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
      // Ownership: `out` is new and handed to Noise, which frames it and queues it on the socket.
      const out = Buffer.allocUnsafe(plaintext.byteLength + AEAD_TAG_LENGTH)
      aead.seal(k, nonce, ad, plaintext instanceof Uint8Array ? plaintext : partsOf(plaintext), out)
      return out
    },
    chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
      const n = ciphertext.byteLength - AEAD_TAG_LENGTH
      if (n < 0) throw new NoiseDecryptError()
      // Noise passes `dst` = the ciphertext's own bytes (a view, or its copy of a split message):
      // decrypting into it is in place. Without one (handshake payloads) the plaintext is new.
      const out = dst !== undefined && dst.byteLength === n ? dst : Buffer.allocUnsafe(n)
      const ok =
        ciphertext instanceof Uint8Array
          ? aead.open(k, nonce, ad, ciphertext.subarray(0, n), ciphertext.subarray(n), out)
          : aead.open(k, nonce, ad, partsOf(ciphertext.sublist(0, n)), ciphertext.subarray(n), out)
      if (!ok) throw new NoiseDecryptError()
      return out
    },
  }
}
