import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { Packet } from 'dns2'
import fc from 'fast-check'
import { createResolver, type Resolver } from '../src/index.ts'
import { fuzzCount } from './fuzz-count.ts'
import { hostile, rng } from './fuzz-gen.ts'
import { ask, buildQuery, fakeNames } from './helpers.ts'
import { type FakeUpstream, startFakeUpstream } from './upstream-server.ts'

const SEED = Number(process.env.MESHLAN_FUZZ_SEED ?? Date.now() % 2 ** 31)
const UDP_PACKETS = fuzzCount(100_000)
const TCP_MESSAGES = fuzzCount(5_000)

describe(`resolver fuzz (seed ${SEED})`, () => {
  let up: FakeUpstream
  let r: Resolver
  let port: number

  before(async () => {
    up = await startFakeUpstream()
    r = createResolver(
      {
        listen: ['127.0.0.1'],
        port: 0,
        upstreams: [`127.0.0.1:${up.port}`],
        upstreamTimeoutMs: 500,
        overlayCidr: '10.144.0.0/16',
        rateLimit: { qps: 1e9, burst: 1e9 },
      },
      { names: fakeNames({ a: '10.144.0.1', b: '10.144.0.2' }) },
    )
    await r.start()
    port = r.addresses()[0].udpPort!
  })
  after(async () => {
    await r.stop()
    await up.close()
  })

  it('query(): every byte string resolves to null or a well-formed response with the same id', async () => {
    const valid = fc
      .constantFrom(...['b.mesh', 'B.HOME.mesh', 'mesh', 'nosuch.mesh', '1.0.144.10.in-addr.arpa'])
      .map((n) => buildQuery(n, 1, { id: 7 }))
    const mutated = fc
      .tuple(valid, fc.array(fc.tuple(fc.nat(80), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }))
      .map(([q, edits]) => {
        const m = Buffer.from(q)
        for (const [i, v] of edits) if (i < m.length) m[i] = v
        return m
      })
    const bytes = fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u))
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytes, mutated), async (msg) => {
        // No upstream round trips here: in-process only, names from the zone or REFUSED/forward.
        const out = await r.query(msg, 'udp', '192.0.2.1')
        if (out == null) return
        assert.ok(out.length >= 12)
        assert.equal(out.readUInt16BE(0), msg.readUInt16BE(0), 'reply id matches')
        assert.ok(out[2] & 0x80, 'QR set')
        Packet.parse(out) // our own output parses
      }),
      { numRuns: fuzzCount(20_000), seed: SEED },
    )
  })

  it(`${UDP_PACKETS} hostile UDP datagrams and ${TCP_MESSAGES} TCP messages: no crash, still answering`, async (t) => {
    const start = Date.now()
    const c0 = r.counters()
    const next = rng(SEED)
    const kinds = new Map<string, number>()
    const sock = createSocket('udp4')
    let replies = 0
    sock.on('message', () => replies++)
    const BURST = 100
    let sent = 0
    while (sent < UDP_PACKETS) {
      const n = Math.min(BURST, UDP_PACKETS - sent)
      const sends: Promise<void>[] = []
      for (let i = 0; i < n; i++) {
        const { kind, msg } = hostile(next)
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
        sends.push(new Promise((resolve) => sock.send(msg, port, '127.0.0.1', () => resolve())))
      }
      await Promise.all(sends)
      sent += n
      // Pace: let the resolver drain its socket before the next burst (until it stops making progress).
      const deadline = Date.now() + 100
      for (;;) {
        const before = r.counters().queries
        await new Promise((resolve) => setImmediate(resolve))
        if (r.counters().queries === before || Date.now() > deadline) break
      }
    }
    // TCP: framed hostile messages on a few connections, plus unframed garbage streams.
    let tcpSent = 0
    while (tcpSent < TCP_MESSAGES) {
      const batch: Buffer[] = []
      for (let i = 0; i < 100 && tcpSent < TCP_MESSAGES; i++, tcpSent++) {
        const { msg } = hostile(next)
        const len = Buffer.alloc(2)
        len.writeUInt16BE(msg.length)
        batch.push(len, msg)
      }
      if (tcpSent % 1000 === 0) batch.push(Buffer.from([0xff, 0xff, 1, 2, 3])) // a length that never arrives
      await tcpBlast(port, Buffer.concat(batch))
    }
    await new Promise((resolve) => setTimeout(resolve, 700))
    sock.close()

    const c = r.counters()
    const seen = c.queries - c0.queries
    const ms = Date.now() - start
    t.diagnostic(
      `udp sent ${sent}, tcp sent ${tcpSent}, resolver saw ${seen} messages, ${replies} udp replies, ` +
        `malformed ${c.malformed - c0.malformed}, forwarded ${c.forwarded - c0.forwarded}, ` +
        `servfail ${c.servfail - c0.servfail}, overloaded ${c.overloaded - c0.overloaded}, in ${ms} ms; ` +
        `kinds ${JSON.stringify(Object.fromEntries(kinds))}`,
    )
    assert.ok(seen >= sent * 0.9, `the resolver read ${seen} of ${sent} datagrams`)
    assert.ok(c.malformed > c0.malformed)
    // Still answering, on both transports.
    assert.equal((await ask(port, 'b.mesh', 1)).answers[0].address, '10.144.0.2')
    assert.equal((await ask(port, 'b.mesh', 1, { tcp: true })).answers[0].address, '10.144.0.2')
    assert.equal((await ask(port, 'example.test', 1)).answers[0].address, '192.0.2.7')
  })
})

/** Writes `data` on a fresh connection, then waits for the server to close it or 300 ms. */
function tcpBlast(port: number, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    const done = (): void => {
      clearTimeout(timer)
      s.destroy()
      resolve()
    }
    const timer = setTimeout(done, 300)
    s.on('error', done)
    s.on('close', done)
    s.on('data', () => {})
    s.on('connect', () => s.end(data))
  })
}
