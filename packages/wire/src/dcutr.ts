/**
 * The DCUtR message (libp2p spec, `/libp2p/dcutr`): protobuf
 *   message HolePunch { required Type type = 1; repeated bytes ObsAddrs = 2; }
 *   enum Type { CONNECT = 100; SYNC = 300; }
 * carried length-prefixed (unsigned varint) on the stream. Hand-written: two fields do not
 * justify a protobuf toolchain, and this parser is fuzzed like every other.
 */
import { MAX_DCUTR_ADDRS, MAX_DCUTR_MESSAGE } from './constants.ts'
import { fail, ok, type Result } from './result.ts'

export const DCUTR_CONNECT = 100
export const DCUTR_SYNC = 300

export interface HolePunch {
  type: number
  /** Binary multiaddrs */
  obsAddrs: Uint8Array[]
}

function varintLen(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

/** Reads a varint at pos; returns [value, next pos] or null when truncated / too long. */
function readVarint(buf: Uint8Array, pos: number): [number, number] | null {
  let value = 0
  let mul = 1
  for (let i = 0; i < 5; i++) {
    if (pos >= buf.length) return null
    const b = buf[pos++]
    value += (b & 0x7f) * mul
    if ((b & 0x80) === 0) return [value, pos]
    mul *= 128
  }
  return null
}

/**
 * Encodes a HolePunch. The addresses are capped so the message always decodes on the far side:
 * at most MAX_DCUTR_ADDRS, and only as many (in the order given: put the preferred first) as fit
 * in MAX_DCUTR_MESSAGE bytes. Those past the cap are left out, not an error: a CONNECT with fewer
 * candidates still works, an oversize one would be refused whole.
 */
export function encodeHolePunch(msg: HolePunch): Uint8Array {
  let size = 1 + varintLen(msg.type)
  let count = 0
  for (const a of msg.obsAddrs) {
    const field = 1 + varintLen(a.length) + a.length
    if (count >= MAX_DCUTR_ADDRS || size + field > MAX_DCUTR_MESSAGE) break
    size += field
    count++
  }
  const out = new Uint8Array(size)
  let pos = 0
  out[pos++] = 0x08 // field 1, varint
  pos = writeVarint(out, pos, msg.type)
  for (let i = 0; i < count; i++) {
    const a = msg.obsAddrs[i]
    out[pos++] = 0x12 // field 2, length-delimited
    pos = writeVarint(out, pos, a.length)
    out.set(a, pos)
    pos += a.length
  }
  return out
}

export function decodeHolePunch(buf: Uint8Array): Result<HolePunch> {
  if (!(buf instanceof Uint8Array)) return fail('dcutr message must be bytes')
  if (buf.length > MAX_DCUTR_MESSAGE)
    return fail(`dcutr message of ${buf.length} bytes exceeds ${MAX_DCUTR_MESSAGE}`)
  let type = -1
  const obsAddrs: Uint8Array[] = []
  let pos = 0
  while (pos < buf.length) {
    const tag = readVarint(buf, pos)
    if (tag == null) return fail('dcutr message: truncated field tag')
    pos = tag[1]
    const field = Math.floor(tag[0] / 8)
    const wire = tag[0] & 7
    if (wire === 0) {
      const v = readVarint(buf, pos)
      if (v == null) return fail('dcutr message: truncated varint')
      pos = v[1]
      if (field === 1) type = v[0]
    } else if (wire === 2) {
      const l = readVarint(buf, pos)
      if (l == null) return fail('dcutr message: truncated length')
      pos = l[1]
      if (pos + l[0] > buf.length) return fail('dcutr message: field longer than the message')
      if (field === 2) {
        if (obsAddrs.length >= MAX_DCUTR_ADDRS)
          return fail(`dcutr message: more than ${MAX_DCUTR_ADDRS} addresses`)
        obsAddrs.push(buf.slice(pos, pos + l[0]))
      }
      pos += l[0]
    } else if (wire === 5) {
      pos += 4
    } else if (wire === 1) {
      pos += 8
    } else {
      return fail(`dcutr message: unsupported wire type ${wire}`)
    }
  }
  if (pos > buf.length) return fail('dcutr message: truncated fixed field')
  if (type !== DCUTR_CONNECT && type !== DCUTR_SYNC) return fail(`dcutr message: unknown type ${type}`)
  return ok({ type, obsAddrs })
}
