import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  createFrameBatch,
  encodeControlFrame,
  encodeFrame,
  FRAME_TYPE_CONTROL,
  FRAME_TYPE_IP,
  type FrameBatch,
  FrameDecoder,
  InvalidFrameError,
  MAX_FRAME_PAYLOAD,
  writeFrameHeader,
} from '../src/index.ts'

interface Frame {
  type: number
  payload: Uint8Array
}

/** Drain a decoder into copied frames; returns the error code if one came up. */
function drain(dec: FrameDecoder, batch: FrameBatch, out: Frame[]): string | null {
  for (;;) {
    const n = dec.decode(batch)
    if (typeof n !== 'number') return n.error
    if (n === 0) return null
    for (let i = 0; i < batch.count; i++) {
      out.push({
        type: FRAME_TYPE_IP,
        payload: batch.buf.slice(batch.offsets[i], batch.offsets[i] + batch.lengths[i]),
      })
    }
    if (batch.controlOffset >= 0) {
      out.push({
        type: FRAME_TYPE_CONTROL,
        payload: batch.buf.slice(batch.controlOffset, batch.controlOffset + batch.controlLength),
      })
    }
    assert.equal(n, batch.count + (batch.controlOffset >= 0 ? 1 : 0))
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

describe('frame header', () => {
  it('writes type and u24 big-endian length', () => {
    const b = new Uint8Array(6)
    writeFrameHeader(b, 2, FRAME_TYPE_IP, 0x00ff01)
    assert.deepEqual([...b], [0, 0, 1, 0x00, 0xff, 0x01])
  })

  it('throws InvalidFrameError on programmer errors', () => {
    const b = new Uint8Array(8)
    assert.throws(() => writeFrameHeader(b, 0, 4, 1), InvalidFrameError)
    assert.throws(() => writeFrameHeader(b, 0, 1, MAX_FRAME_PAYLOAD + 1), InvalidFrameError)
    assert.throws(() => writeFrameHeader(b, 5, 1, 1), InvalidFrameError)
    writeFrameHeader(b, 4, 1, MAX_FRAME_PAYLOAD)
  })
})

describe('FrameDecoder', () => {
  it('decodes IP frames into a writeBatch-shaped index, control frames end a batch', () => {
    const stream = concat([
      encodeFrame(1, Uint8Array.of(1, 2, 3)),
      encodeFrame(1, new Uint8Array(0)),
      encodeControlFrame({ t: 'close', code: 'bye', reason: '' }),
      encodeFrame(1, Uint8Array.of(9)),
    ])
    const dec = new FrameDecoder({ initialBufferBytes: 8 })
    const batch = createFrameBatch(8)
    dec.push(stream)
    assert.equal(dec.decode(batch), 3)
    assert.equal(batch.count, 2)
    assert.deepEqual(
      [...batch.buf.subarray(batch.offsets[0], batch.offsets[0] + batch.lengths[0])],
      [1, 2, 3],
    )
    assert.equal(batch.lengths[1], 0)
    const ctl = new TextDecoder().decode(
      batch.buf.subarray(batch.controlOffset, batch.controlOffset + batch.controlLength),
    )
    assert.deepEqual(JSON.parse(ctl), { t: 'close', code: 'bye', reason: '' })
    assert.equal(dec.decode(batch), 1)
    assert.equal(batch.count, 1)
    assert.equal(batch.controlOffset, -1)
    assert.equal(dec.decode(batch), 0)
    assert.equal(dec.buffered, 0)
  })

  it('respects batch capacity', () => {
    const dec = new FrameDecoder()
    const batch = createFrameBatch(2)
    for (let i = 0; i < 5; i++) dec.push(encodeFrame(1, Uint8Array.of(i)))
    const counts: number[] = []
    for (let n = dec.decode(batch); n !== 0; n = dec.decode(batch)) counts.push(n as number)
    assert.deepEqual(counts, [2, 2, 1])
  })

  it('accepts Uint8ArrayList chunks', () => {
    const dec = new FrameDecoder({ initialBufferBytes: 4 })
    const list = new Uint8ArrayList(
      encodeFrame(1, Uint8Array.of(5, 6)),
      encodeFrame(1, Uint8Array.of(7)).subarray(0, 2),
    )
    dec.push(list)
    dec.push(encodeFrame(1, Uint8Array.of(7)).subarray(2))
    const out: Frame[] = []
    assert.equal(drain(dec, createFrameBatch(), out), null)
    assert.deepEqual(
      out.map((f) => [...f.payload]),
      [[5, 6], [7]],
    )
  })

  it('reports bad type and oversize headers as sticky error values, after earlier good frames', () => {
    const dec = new FrameDecoder()
    const batch = createFrameBatch()
    dec.push(concat([encodeFrame(1, Uint8Array.of(1)), Uint8Array.of(4, 0, 0, 1, 0)]))
    assert.equal(dec.decode(batch), 1)
    assert.deepEqual(dec.decode(batch), { error: 'BAD_FRAME_TYPE', type: 4, length: 1 })
    assert.deepEqual(dec.decode(batch), { error: 'BAD_FRAME_TYPE', type: 4, length: 1 })
    const big = new FrameDecoder()
    big.push(Uint8Array.of(1, 0x01, 0x00, 0x10)) // 65552, header alone is enough to reject
    const r = big.decode(batch)
    assert.ok(typeof r !== 'number' && r.error === 'FRAME_TOO_LONG' && r.length === 65552)
    assert.ok(big.error !== null)
    big.reset()
    assert.equal(big.decode(batch), 0)
  })

  it('handles a maximal frame and buffer growth', () => {
    const payload = new Uint8Array(MAX_FRAME_PAYLOAD).map((_, i) => i & 0xff)
    const dec = new FrameDecoder({ initialBufferBytes: 16 })
    const f = encodeFrame(1, payload)
    const out: Frame[] = []
    const batch = createFrameBatch()
    for (let o = 0; o < f.length; o += 1000) {
      dec.push(f.subarray(o, o + 1000))
      assert.equal(drain(dec, batch, out), null)
    }
    assert.equal(out.length, 1)
    assert.deepEqual(out[0].payload, payload)
  })

  it('property: any split of a valid frame stream yields the same frames', () => {
    const frameArb = fc.record({
      type: fc.constantFrom(FRAME_TYPE_IP, FRAME_TYPE_CONTROL),
      payload: fc.uint8Array({ maxLength: 300 }),
    })
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        (frames, cuts, cap, asList) => {
          const stream = concat(frames.map((f) => encodeFrame(f.type, f.payload)))
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b)
          const dec = new FrameDecoder({ initialBufferBytes: 16 })
          const batch = createFrameBatch(cap)
          const out: Frame[] = []
          let prev = 0
          for (const p of [...points, stream.length]) {
            const chunk = stream.subarray(prev, p)
            if (asList && chunk.length > 1) {
              dec.push(new Uint8ArrayList(chunk.subarray(0, 1), chunk.subarray(1)))
            } else {
              dec.push(chunk)
            }
            prev = p
            assert.equal(drain(dec, batch, out), null)
          }
          assert.equal(out.length, frames.length)
          out.forEach((f, i) => {
            assert.equal(f.type, frames[i].type)
            assert.deepEqual(f.payload, frames[i].payload)
          })
          assert.equal(dec.buffered, 0)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('never mixes plain and vnet IP frames in one batch', () => {
    const dec = new FrameDecoder()
    const batch = createFrameBatch(8)
    dec.push(
      concat([
        encodeFrame(1, Uint8Array.of(1)),
        encodeFrame(3, Uint8Array.of(2, 2)),
        encodeFrame(3, Uint8Array.of(3, 3, 3)),
        encodeFrame(1, Uint8Array.of(4)),
      ]),
    )
    const kinds: Array<[boolean, number]> = []
    while (dec.decode(batch) !== 0) kinds.push([batch.vnet, batch.count])
    assert.deepEqual(kinds, [
      [false, 1],
      [true, 2],
      [false, 1],
    ])
  })
})
