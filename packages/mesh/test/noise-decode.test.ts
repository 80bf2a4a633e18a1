/**
 * Receiving a Noise message does not cost an exception (patches/@libp2p__utils@*.patch).
 *
 * Noise's length-prefixed decoder (`LengthPrefixedDecoder` in @libp2p/utils) asked its length
 * decoder for the next length after every chunk, also when the chunk had ended on a message
 * boundary; Noise's 2-byte decoder then threw a RangeError, caught as "not enough data". A stack
 * trace per chunk received: in an idle ping's profile, ~60 µs of every small message on each side
 * (docs/benchmarks.md, "Where an idle ping's time goes"). Over real loopback TCP between two libp2p
 * nodes, with RangeError constructions counted in this process while small messages cross one by one.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { MeshLibp2p } from '../src/transport.ts'
import { loopbackNode } from './helpers.ts'

const SINK = '/meshlan/test/noise-decode-sink/1.0.0'
const MESSAGES = 200

/** Counts `RangeError` constructions (with or without `new`) until restored. */
function countRangeErrors(): { count(): number; restore(): void } {
  const original = globalThis.RangeError
  let n = 0
  globalThis.RangeError = new Proxy(original, {
    construct(target, args) {
      n++
      return Reflect.construct(target, args)
    },
    apply(target, self, args) {
      n++
      return Reflect.apply(target, self, args)
    },
  })
  return {
    count: () => n,
    restore() {
      globalThis.RangeError = original
    },
  }
}

describe('Noise message decoding', () => {
  let a: MeshLibp2p
  let b: MeshLibp2p
  let received = 0
  before(async () => {
    ;[a, b] = await Promise.all([loopbackNode(), loopbackNode()])
    await b.handle(SINK, (stream) => {
      stream.addEventListener('message', (evt) => {
        received += evt.data.byteLength
      })
    })
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('small messages arriving one per chunk: all delivered, no exception per chunk', async (t) => {
    const stream = await a.dialProtocol(b.getMultiaddrs(), SINK, { signal: AbortSignal.timeout(5000) })
    t.after(() => stream.abort(new Error('test over')))
    const before = received
    const errors = countRangeErrors()
    try {
      for (let i = 0; i < MESSAGES; i++) {
        stream.send(new Uint8Array(100).fill(i))
        // one message per chunk on the receiving socket: let it arrive before the next
        const want = before + (i + 1) * 100
        const deadline = Date.now() + 2000
        while (received < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1))
      }
    } finally {
      errors.restore()
    }
    assert.equal(received - before, MESSAGES * 100, 'every message arrived')
    // unpatched: one per message on b (and per yamux window update on a), ≥ MESSAGES
    assert.ok(
      errors.count() < MESSAGES / 10,
      `RangeErrors constructed: ${errors.count()} for ${MESSAGES} messages`,
    )
  })
})
