/** FrameDecoder against a hostile peer: every buffer is capped, and a stream that exceeds it fails. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CONTROL_DECODER_MAX_BUFFER_BYTES,
  createFrameBatch,
  DEFAULT_DECODER_MAX_BUFFER_BYTES,
  encodeControlFrame,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_TYPE_CONTROL,
  FRAME_TYPE_IP,
  FrameDecoder,
  MAX_FRAME_PAYLOAD,
} from '../src/index.ts'

/** `count` 1400-byte IP frames back to back. */
function frames(count: number): Uint8Array {
  const f = encodeFrame(FRAME_TYPE_IP, new Uint8Array(1400).fill(0x45))
  const out = new Uint8Array(f.length * count)
  for (let i = 0; i < count; i++) out.set(f, i * f.length)
  return out
}

describe('FrameDecoder bounds', () => {
  it('a peer writing 256 MiB at a consumer that decodes one frame per chunk fails the stream at the cap', () => {
    // the old outbound-stream handler: one decode per message event; the rest stayed buffered
    const dec = new FrameDecoder({ initialBufferBytes: 4096 })
    const batch = createFrameBatch(1)
    const chunk = frames(46) // ~64 KiB, what one yamux message carries
    let pushed = 0
    let failedAt = -1
    while (pushed < 256 * 1024 * 1024) {
      dec.push(chunk)
      pushed += chunk.length
      const n = dec.decode(batch)
      if (typeof n !== 'number') {
        failedAt = pushed
        assert.equal(n.error, 'BUFFER_FULL')
        break
      }
      assert.ok(dec.buffered <= DEFAULT_DECODER_MAX_BUFFER_BYTES, `buffered ${dec.buffered}`)
    }
    assert.ok(failedAt > 0, 'the decoder never gave up: it held everything the peer sent')
    assert.ok(
      failedAt <= DEFAULT_DECODER_MAX_BUFFER_BYTES + 2 * chunk.length,
      `failed only after ${failedAt} bytes`,
    )
    assert.ok(dec.buffered <= DEFAULT_DECODER_MAX_BUFFER_BYTES)
    // sticky: nothing more is taken
    dec.push(chunk)
    const again = dec.decode(batch)
    assert.ok(typeof again !== 'number' && again.error === 'BUFFER_FULL')
    assert.ok(dec.buffered <= DEFAULT_DECODER_MAX_BUFFER_BYTES)
  })

  it('a consumer that drains after every push passes any amount within the cap', () => {
    const dec = new FrameDecoder()
    const batch = createFrameBatch(256)
    const stream = frames(46 * 16)
    let got = 0
    let most = 0
    for (let round = 0; round < 100; round++) {
      // misaligned chunks so frames straddle pushes
      for (let o = 0; o < stream.length; o += 65_531) {
        dec.push(stream.subarray(o, o + 65_531))
        most = Math.max(most, dec.buffered)
        for (;;) {
          const n = dec.decode(batch)
          assert.equal(typeof n, 'number')
          if (n === 0) break
          got += batch.count
        }
      }
    }
    assert.equal(got, 46 * 16 * 100)
    assert.equal(dec.error, null)
    assert.ok(most < 65_531 + FRAME_HEADER_BYTES + 1400, `held ${most}`)
  })

  it('a header announcing a frame that can never fit fails at once, not after buffering it', () => {
    const dec = new FrameDecoder({ maxBufferBytes: 8192 })
    const batch = createFrameBatch(4)
    dec.push(encodeFrame(FRAME_TYPE_IP, new Uint8Array(16)))
    const head = new Uint8Array(FRAME_HEADER_BYTES)
    head[0] = FRAME_TYPE_IP
    head[2] = 0x40 // 16 KiB: within MAX_FRAME_PAYLOAD, beyond this decoder's cap
    dec.push(head)
    assert.equal(dec.decode(batch), 1, 'the frame before the bad header is still reported')
    const n = dec.decode(batch)
    assert.ok(typeof n !== 'number')
    assert.equal(n.error, 'FRAME_TOO_LONG')
    assert.equal(n.length, 0x4000)
    assert.ok(MAX_FRAME_PAYLOAD > 0x4000)
  })

  it('a control-only decoder (our own outbound stream) takes a refusal and fails on anything else', () => {
    const batch = createFrameBatch(1)
    const ok = new FrameDecoder({ controlOnly: true })
    assert.equal(ok.maxBufferBytes, CONTROL_DECODER_MAX_BUFFER_BYTES)
    ok.push(encodeControlFrame({ t: 'refuse', code: 'ACL', reason: 'no rule allows it' }))
    assert.equal(ok.decode(batch), 1)
    assert.ok(batch.controlOffset >= 0)
    assert.equal(batch.buf[batch.controlOffset - FRAME_HEADER_BYTES], FRAME_TYPE_CONTROL)

    const ip = new FrameDecoder({ controlOnly: true })
    ip.push(encodeFrame(FRAME_TYPE_IP, new Uint8Array(40)))
    const n = ip.decode(batch)
    assert.ok(typeof n !== 'number')
    assert.equal(n.error, 'UNEXPECTED_FRAME')

    const big = new FrameDecoder({ controlOnly: true })
    big.push(new Uint8Array(CONTROL_DECODER_MAX_BUFFER_BYTES + 1))
    const m = big.decode(batch)
    assert.ok(typeof m !== 'number')
    assert.equal(m.error, 'BUFFER_FULL')
    assert.equal(big.buffered, 0, 'the oversized chunk was dropped, not held')
  })
})
