/**
 * A message's buffers leave a TCP socket in one writev (docs/nat.md "Relayed throughput").
 *
 * Noise hands the socket each message as [2-byte length][ciphertext…][16-byte tag]; written one
 * `socket.write` at a time, each was its own syscall and, with noDelay, often its own TCP segment:
 * the relay made 6700 writes/s of ~1.9 KiB at 100 Mbit/s. Both connection wrappers cork the socket
 * until the end of the tick: the @libp2p/tcp one (patches/@libp2p__tcp@*.patch) and ours for
 * hole-punched sockets (socket-conn.ts). Over real loopback TCP, with the writes counted by
 * wrapping net.Socket's `_write`/`_writev` in this process.
 */
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { socketToConnection } from '../src/reachability/socket-conn.ts'
import type { MeshLibp2p } from '../src/transport.ts'
import { loopbackNode, socketPair } from './helpers.ts'

const SINK = '/meshlan/test/writev-sink/1.0.0'

/** Every chunk handed to a socket alone (`_write`) and every batch (`_writev`) while counting. */
interface Writes {
  single: number[]
  batches: number[][]
}

function countWrites(): { writes: Writes; restore(): void } {
  const proto = Socket.prototype as unknown as {
    _write(chunk: Uint8Array, enc: string, cb: () => void): void
    _writev(chunks: { chunk: Uint8Array }[], cb: () => void): void
  }
  const write = proto._write
  const writev = proto._writev
  const writes: Writes = { single: [], batches: [] }
  proto._write = function (this: Socket, chunk, enc, cb) {
    writes.single.push(chunk.byteLength)
    return write.call(this, chunk, enc, cb)
  }
  proto._writev = function (this: Socket, chunks, cb) {
    writes.batches.push(chunks.map((c) => c.chunk.byteLength))
    return writev.call(this, chunks, cb)
  }
  return {
    writes,
    restore() {
      proto._write = write
      proto._writev = writev
    },
  }
}

describe('a message leaves the socket in one writev', () => {
  let a: MeshLibp2p
  let b: MeshLibp2p
  before(async () => {
    ;[a, b] = await Promise.all([loopbackNode(), loopbackNode()])
    await b.handle(SINK, () => {})
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('hole-punched connection (socket-conn.ts): three buffers, one writev, bytes in order', async (t) => {
    const [sa, sb] = await socketPair()
    t.after(() => {
      sa.destroy()
      sb.destroy()
    })
    const conn = socketToConnection(sa, 'outbound', a.logger.forComponent('test'))
    const got: Buffer[] = []
    sb.on('data', (b: Buffer) => got.push(b))
    const { writes, restore } = countWrites()
    try {
      conn.send(new Uint8ArrayList(Uint8Array.of(0, 3), Uint8Array.of(7, 8, 9), new Uint8Array(16).fill(1)))
      await new Promise((r) => setImmediate(r))
    } finally {
      restore()
    }
    assert.deepEqual(writes.single, [], 'no buffer of the message went out alone')
    assert.deepEqual(writes.batches, [[2, 3, 16]], 'one writev with the three buffers')
    await new Promise<void>((r) => {
      const check = () => (Buffer.concat(got).length >= 21 ? r() : setTimeout(check, 5))
      check()
    })
    assert.deepEqual([...Buffer.concat(got)], [0, 3, 7, 8, 9, ...new Array(16).fill(1)])
  })

  it('@libp2p/tcp connection (the patch): 2 MiB through a stream: every small buffer went out in a writev with others', async (t) => {
    const stream = await a.dialProtocol(b.getMultiaddrs(), SINK, { signal: AbortSignal.timeout(5000) })
    t.after(() => stream.abort(new Error('test over')))
    const { writes, restore } = countWrites()
    try {
      for (let i = 0; i < 32; i++) {
        if (!stream.send(new Uint8Array(64 * 1024).fill(i))) {
          await new Promise((r) => stream.addEventListener('drain', r, { once: true }))
        }
      }
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      restore()
    }
    // without the cork: hundreds of 2-byte length prefixes and 16-byte tags, each its own write
    const alone = writes.single.filter((n) => n <= 16)
    assert.equal(alone.length, 0, `buffers of ≤ 16 bytes written alone: ${alone.length}`)
    assert.ok(writes.batches.length > 0, 'the data went out in writevs')
  })
})
