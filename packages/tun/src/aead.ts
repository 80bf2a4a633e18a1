/**
 * ChaCha20-Poly1305 (RFC 8439) with caller-owned output, through the OpenSSL inside Node
 * (native/aead.c). node:crypto's Cipheriv allocates a Buffer per update, final and tag; here a
 * message is sealed into one buffer the caller allocated and opened in place.
 *
 * Ownership: `seal` reads `src` and writes `out` (which must not overlap `src`); `open` reads
 * `src` and writes `out`, which may be `src` itself (same bytes, same start) but no partial
 * overlap. Neither keeps a reference after it returns.
 */
import { loadAddon } from './addon.ts'

/** Key, nonce and tag sizes of ChaCha20-Poly1305 (RFC 8439 §2.8). */
export const AEAD_KEY_LENGTH = 32
export const AEAD_NONCE_LENGTH = 12
export const AEAD_TAG_LENGTH = 16
/** Most parts one call takes (native/aead.c MAX_PARTS); join longer lists first. */
export const AEAD_MAX_PARTS = 64

/** A message's bytes: one buffer, or its parts in order. */
export type AeadSource = Uint8Array | readonly Uint8Array[]

export interface Aead {
  /** Writes ciphertext ‖ tag (src length + 16 bytes) into `out`; returns the bytes written. */
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, src: AeadSource, out: Uint8Array): number
  /**
   * Decrypts `src` into `out` and checks `tag`: true when it verifies. On false `out` holds
   * garbage and must be dropped with the message.
   */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    src: AeadSource,
    tag: Uint8Array,
    out: Uint8Array,
  ): boolean
}

/** The addon's AEAD; throws TunAddonMissingError when it is not built. */
export function chacha20Poly1305(): Aead {
  return loadAddon<Aead>('meshlan_aead')
}
