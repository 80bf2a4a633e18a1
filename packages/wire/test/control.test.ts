import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import {
  type ControlMessage,
  createFrameBatch,
  decodeControl,
  encodeControl,
  encodeControlFrame,
  FrameDecoder,
  InvalidMessageError,
  MAX_CONTROL_BYTES,
} from '../src/index.ts'
import { type World, world } from './fixtures.ts'

let w: World
before(async () => {
  w = await world()
})

const enc = (s: string) => new TextEncoder().encode(s)

describe('control messages', () => {
  it('round trip each message kind, also through a frame decoder', () => {
    const msgs: ControlMessage[] = [
      { t: 'hello', v: 1, networkId: w.networkId, peerId: w.nodeId },
      { t: 'refuse', code: 'NOT_MEMBER', reason: 'no valid claim for this peer' },
      { t: 'close', code: 'SHUTDOWN', reason: '' },
    ]
    const dec = new FrameDecoder()
    const batch = createFrameBatch()
    for (const m of msgs) {
      assert.deepEqual(decodeControl(encodeControl(m)), { ok: true, value: m })
      dec.push(encodeControlFrame(m))
    }
    for (const m of msgs) {
      assert.equal(dec.decode(batch), 1)
      const r = decodeControl(
        batch.buf.subarray(batch.controlOffset, batch.controlOffset + batch.controlLength),
      )
      assert.deepEqual(r, { ok: true, value: m })
    }
  })

  it('rejects bad messages as values', () => {
    const bad = [
      '',
      '{',
      '"hello"',
      '{"t":"hello","v":2,"networkId":"n1","peerId":"x"}',
      `{"t":"hello","v":1,"networkId":"n1","peerId":"${'1'.repeat(52)}"}`,
      '{"t":"bye"}',
      '{"t":"close","code":"","reason":""}',
      '{"t":"close","code":"x"}',
    ]
    for (const s of bad) {
      const r = decodeControl(enc(s))
      assert.equal(r.ok, false, s)
    }
    assert.equal(decodeControl(Uint8Array.of(0xc3, 0x28)).ok, false)
    const big = decodeControl(new Uint8Array(MAX_CONTROL_BYTES + 1).fill(0x20))
    assert.ok(!big.ok && /exceeds/.test(big.reason))
  })

  it('refuses to encode bad or oversize messages', () => {
    assert.throws(() => encodeControl({ t: 'close', code: '', reason: '' }), InvalidMessageError)
    assert.throws(
      () => encodeControl({ t: 'close', code: 'x', reason: 'r'.repeat(2000) }),
      InvalidMessageError,
    )
    // Within the field limits but over 4 KiB once JSON-escaped.
    assert.throws(
      () => encodeControl({ t: 'close', code: 'x', reason: '\u0000'.repeat(1000) }),
      /exceeds 4096/,
    )
  })
})
