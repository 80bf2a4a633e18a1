/**
 * Tunnel frames: `[type u8][payload length u24 big-endian][payload]`, concatenated on a stream.
 *
 * `FrameDecoder` reassembles frames from arbitrary stream chunks without per-frame allocation.
 *
 * Buffer ownership:
 * - `push(chunk)` copies the chunk; the caller may reuse or drop the chunk at once.
 * - `decode(batch)` points `batch.buf` at the decoder's reassembly buffer and fills
 *   `batch.offsets/lengths/count` (IP frames) and `batch.controlOffset/controlLength`
 *   (at most one control frame, which ends the batch). These views stay valid across further
 *   `decode` calls and are invalidated by the next `push` (which may compact or grow the buffer).
 *   Finish with a batch (e.g. hand it to TUN `writeBatch`, decode the control payload) before
 *   pushing the next chunk.
 *
 * Bounds: the decoder never holds more than `maxBufferBytes` (default 1 MiB). Drain it after every
 * push (call `decode` until it returns 0); a stream that would exceed the cap, or announces a frame
 * that could never fit, gets the sticky FrameError `BUFFER_FULL` / `FRAME_TOO_LONG` and its chunk is
 * dropped: close that stream. A `controlOnly` decoder (the side that opened a unidirectional tunnel
 * stream) fails with `UNEXPECTED_FRAME` on the first IP frame header.
 *
 * Ordering: frames are reported in stream order. A batch is a run of IP frames optionally followed
 * by one control frame, so control messages are handled after the IP frames that preceded them and
 * before the ones that follow.
 */
import type { Uint8ArrayList } from 'uint8arraylist'
import {
  DEFAULT_DECODER_BUFFER_BYTES,
  DEFAULT_FRAME_BATCH_CAPACITY,
  FRAME_HEADER_BYTES,
  FRAME_TYPE_CONTROL,
  FRAME_TYPE_IP,
  FRAME_TYPE_IP_VNET,
  MAX_CONTROL_BYTES,
  MAX_FRAME_PAYLOAD,
} from './constants.ts'
import { InvalidFrameError } from './errors.ts'

/**
 * Most bytes a FrameDecoder holds before it fails the stream with `BUFFER_FULL`. A consumer that
 * drains after every push holds less than one frame (≤ MAX_FRAME_PAYLOAD + 4 bytes) plus the chunk
 * just pushed, and a yamux chunk is at most one stream window (256 KiB): 1 MiB is three times that.
 * More means the peer ignores flow control or the consumer does not drain; either way a peer must
 * not make us hold it.
 * @default 1048576
 */
export const DEFAULT_DECODER_MAX_BUFFER_BYTES = 1024 * 1024
/**
 * Cap of a `controlOnly` decoder: one largest control frame. The opener of a unidirectional tunnel
 * stream receives at most one refusal on it, so anything beyond this is a protocol error.
 */
export const CONTROL_DECODER_MAX_BUFFER_BYTES = FRAME_HEADER_BYTES + MAX_CONTROL_BYTES

/** Write a frame header at `buf[off .. off+4)`. Throws InvalidFrameError on a bad type or length. */
export function writeFrameHeader(buf: Uint8Array, off: number, type: number, len: number): void {
  if (type !== FRAME_TYPE_IP && type !== FRAME_TYPE_CONTROL && type !== FRAME_TYPE_IP_VNET)
    throw new InvalidFrameError(`unknown type ${type}`)
  if (!Number.isInteger(len) || len < 0 || len > MAX_FRAME_PAYLOAD) {
    throw new InvalidFrameError(`payload length ${len} is outside 0..${MAX_FRAME_PAYLOAD}`)
  }
  if (!(off >= 0 && off + FRAME_HEADER_BYTES <= buf.length)) {
    throw new InvalidFrameError(`header at offset ${off} does not fit in a ${buf.length}-byte buffer`)
  }
  buf[off] = type
  buf[off + 1] = (len >>> 16) & 0xff
  buf[off + 2] = (len >>> 8) & 0xff
  buf[off + 3] = len & 0xff
}

/** Allocate header + payload as one frame. Convenience for control frames and tests. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length)
  writeFrameHeader(out, 0, type, payload.length)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/**
 * Caller-owned, reused index of decoded frames. Make one with `createFrameBatch()`.
 * IP frames: `buf.subarray(offsets[i], offsets[i] + lengths[i])` for i < count — the shape of a
 * TUN `writeBatch(buf, offsets, lengths, count)` call.
 */
export interface FrameBatch {
  /** Slab all offsets point into (the decoder's reassembly buffer). */
  buf: Uint8Array
  /** Payload offsets of IP frames. Capacity = `offsets.length`. */
  offsets: Uint32Array
  /** Payload lengths of IP frames. Same capacity as `offsets`. */
  lengths: Uint32Array
  /** Number of IP frames in this batch. */
  count: number
  /** The batch's IP frames carry a virtio_net_hdr (type 3); a batch never mixes the two kinds. */
  vnet: boolean
  /** Payload offset of the control frame that ends this batch, or -1 when there is none. */
  controlOffset: number
  /** Payload length of that control frame (0 when there is none). */
  controlLength: number
}

/** Make a reusable batch with room for `capacity` IP frames. */
export function createFrameBatch(capacity: number = DEFAULT_FRAME_BATCH_CAPACITY): FrameBatch {
  const cap = Math.max(1, Math.floor(capacity))
  return {
    buf: new Uint8Array(0),
    offsets: new Uint32Array(cap),
    lengths: new Uint32Array(cap),
    count: 0,
    vnet: false,
    controlOffset: -1,
    controlLength: 0,
  }
}

/** Why a stream of frames is unusable; the caller should close the stream. */
export type FrameErrorCode = 'BAD_FRAME_TYPE' | 'FRAME_TOO_LONG' | 'BUFFER_FULL' | 'UNEXPECTED_FRAME'

/** Returned by `FrameDecoder.decode` once the stream is unusable. Sticky. */
export interface FrameError {
  /**
   * BAD_FRAME_TYPE: unknown type byte. FRAME_TOO_LONG: a length above MAX_FRAME_PAYLOAD or one that
   * can never fit in `maxBufferBytes`. BUFFER_FULL: a push would hold more than `maxBufferBytes`.
   * UNEXPECTED_FRAME: an IP frame reached a `controlOnly` decoder.
   */
  error: FrameErrorCode
  /** Type byte of the offending header (-1 for BUFFER_FULL). */
  type: number
  /** Payload length of the offending header; for BUFFER_FULL, the bytes the push would have held. */
  length: number
}

/** Options for `new FrameDecoder(init)`. */
export interface FrameDecoderInit {
  /**
   * Initial reassembly buffer size in bytes.
   * @default DEFAULT_DECODER_BUFFER_BYTES (256 KiB)
   */
  initialBufferBytes?: number
  /**
   * Most bytes held at once (see the file comment); at least one frame header.
   * @default DEFAULT_DECODER_MAX_BUFFER_BYTES (1 MiB), or CONTROL_DECODER_MAX_BUFFER_BYTES when `controlOnly`
   */
  maxBufferBytes?: number
  /**
   * Only control frames are valid on this stream (we opened it; the far side only answers).
   * @default false
   */
  controlOnly?: boolean
}

/** Reassembles frames from stream chunks. See the file comment for buffer ownership. */
export class FrameDecoder {
  private buf: Uint8Array
  /** First unconsumed byte. */
  private start: number
  /** One past the last buffered byte. */
  private end: number
  private failure: FrameError | null
  private readonly maxBytes: number
  private readonly controlOnly: boolean

  constructor(init: FrameDecoderInit = {}) {
    this.controlOnly = init.controlOnly === true
    const max =
      init.maxBufferBytes ??
      (this.controlOnly ? CONTROL_DECODER_MAX_BUFFER_BYTES : DEFAULT_DECODER_MAX_BUFFER_BYTES)
    this.maxBytes = Math.max(FRAME_HEADER_BYTES, Math.floor(max))
    const size = Math.min(init.initialBufferBytes ?? DEFAULT_DECODER_BUFFER_BYTES, this.maxBytes)
    this.buf = new Uint8Array(Math.max(FRAME_HEADER_BYTES, Math.floor(size)))
    this.start = 0
    this.end = 0
    this.failure = null
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.end - this.start
  }

  /** The sticky error, once the stream held a bad frame header; null before. */
  get error(): FrameError | null {
    return this.failure
  }

  /** Most bytes this decoder holds at once. */
  get maxBufferBytes(): number {
    return this.maxBytes
  }

  /**
   * Append a stream chunk. Invalidates every view handed out by earlier `decode` calls. A chunk that
   * would take the decoder past `maxBufferBytes` is dropped and fails the stream (BUFFER_FULL).
   */
  push(chunk: Uint8Array | Uint8ArrayList): void {
    if (this.failure !== null) return
    const held = this.end - this.start + chunk.byteLength
    if (held > this.maxBytes) {
      this.failure = { error: 'BUFFER_FULL', type: -1, length: held }
      return
    }
    if (chunk instanceof Uint8Array) {
      this.append(chunk)
    } else {
      this.reserve(chunk.byteLength)
      for (const part of chunk) this.append(part)
    }
  }

  /**
   * Fill `batch` with the next complete frames: up to `batch.offsets.length` IP frames, then at most
   * one control frame. Returns the number of frames reported (IP + control); 0 means "push more
   * bytes". Returns a FrameError (and keeps returning it) once a header has an unknown type or a
   * length above MAX_FRAME_PAYLOAD (or beyond `maxBufferBytes`), once a push overflowed, or on an
   * IP frame in a `controlOnly` decoder.
   */
  decode(batch: FrameBatch): number | FrameError {
    batch.buf = this.buf
    batch.count = 0
    batch.controlOffset = -1
    batch.controlLength = 0
    if (this.failure !== null) return this.failure
    const buf = this.buf
    const cap = batch.offsets.length
    const end = this.end
    let pos = this.start
    let count = 0
    let control = 0
    while (end - pos >= FRAME_HEADER_BYTES) {
      const type = buf[pos]
      const len = (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
      if (type !== FRAME_TYPE_IP && type !== FRAME_TYPE_CONTROL && type !== FRAME_TYPE_IP_VNET) {
        this.failure = { error: 'BAD_FRAME_TYPE', type, length: len }
        break
      }
      if (this.controlOnly && type !== FRAME_TYPE_CONTROL) {
        this.failure = { error: 'UNEXPECTED_FRAME', type, length: len }
        break
      }
      if (len > MAX_FRAME_PAYLOAD || len > this.maxBytes - FRAME_HEADER_BYTES) {
        this.failure = { error: 'FRAME_TOO_LONG', type, length: len }
        break
      }
      if (end - pos - FRAME_HEADER_BYTES < len) break
      if (type === FRAME_TYPE_IP || type === FRAME_TYPE_IP_VNET) {
        if (count === cap) break
        // one kind per batch: the TUN write takes the vnet flag per call
        const vnet = type === FRAME_TYPE_IP_VNET
        if (count === 0) batch.vnet = vnet
        else if (batch.vnet !== vnet) break
        batch.offsets[count] = pos + FRAME_HEADER_BYTES
        batch.lengths[count] = len
        count++
        pos += FRAME_HEADER_BYTES + len
      } else {
        batch.controlOffset = pos + FRAME_HEADER_BYTES
        batch.controlLength = len
        control = 1
        pos += FRAME_HEADER_BYTES + len
        break
      }
    }
    this.start = pos
    batch.count = count
    if (count + control === 0 && this.failure !== null) return this.failure
    // Frames found before a bad header are still reported; the error comes on the next call.
    return count + control
  }

  /** Drop all buffered bytes and any sticky error. */
  reset(): void {
    this.start = 0
    this.end = 0
    this.failure = null
  }

  private append(part: Uint8Array): void {
    this.reserve(part.length)
    this.buf.set(part, this.end)
    this.end += part.length
  }

  /** Make room for `n` more bytes after `end`, compacting first and growing only if needed. */
  private reserve(n: number): void {
    if (this.start === this.end) {
      this.start = 0
      this.end = 0
    }
    if (this.buf.length - this.end >= n) return
    const live = this.end - this.start
    if (this.buf.length >= live + n) {
      this.buf.copyWithin(0, this.start, this.end)
    } else {
      let size = this.buf.length * 2
      while (size < live + n) size *= 2
      // push() already refused anything beyond the cap, so the cap always fits live + n
      if (size > this.maxBytes) size = this.maxBytes
      const next = new Uint8Array(size)
      next.set(this.buf.subarray(this.start, this.end), 0)
      this.buf = next
    }
    this.start = 0
    this.end = live
  }
}
