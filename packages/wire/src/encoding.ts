/**
 * Strict text codecs shared by the formats. Decoders return null on bad input and never throw.
 */

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const B64URL_RE = /^[A-Za-z0-9_-]*$/

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('base64')
}

/** Strict standard base64 (padded, canonical); null when `text` is anything else. */
export function fromBase64(text: string): Uint8Array | null {
  if (typeof text !== 'string' || !B64_RE.test(text)) return null
  const out = Buffer.from(text, 'base64')
  // Reject non-canonical encodings (non-zero trailing bits).
  if (out.toString('base64') !== text) return null
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('base64url')
}

/** Strict unpadded base64url (canonical); null when `text` is anything else. */
export function fromBase64Url(text: string): Uint8Array | null {
  if (typeof text !== 'string' || !B64URL_RE.test(text) || text.length % 4 === 1) return null
  const out = Buffer.from(text, 'base64url')
  if (out.toString('base64url') !== text) return null
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** UTF-8 encode. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text)
}

/** Strict UTF-8 decode; null on invalid UTF-8. */
export function fromUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8Decoder.decode(bytes)
  } catch {
    return null
  }
}

/** Parse UTF-8 JSON bytes; `undefined` on invalid UTF-8 or JSON. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  const text = fromUtf8(bytes)
  if (text === null) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Lowercase RFC 4648 base32 without padding. */
export function toBase32(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let out = ''
  let bits = 0
  let value = 0
  for (let i = 0; i < bytes.length; i++) {
    value = ((value << 8) | bytes[i]) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}
