import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { after, before, describe, it } from 'node:test'
import { Packet } from 'dns2'
import { createResolver, RateLimiter, type Resolver } from '../src/index.ts'
import { ask, buildQuery, dig, fakeNames, hasDig, tcpExchange, udpExchange } from './helpers.ts'
import { type FakeUpstream, startFakeUpstream } from './upstream-server.ts'

const { TYPE, RCODE } = Packet

/** A UDP port on 127.0.0.1 where nothing listens. */
async function deadPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  const port = s.address().port
  await new Promise<void>((resolve) => s.close(resolve))
  return port
}

describe('resolver: forwarding', () => {
  let up: FakeUpstream
  let r: Resolver
  let port: number

  before(async () => {
    up = await startFakeUpstream()
    r = createResolver(
      { listen: ['127.0.0.1'], port: 0, upstreams: [`127.0.0.1:${up.port}`], upstreamTimeoutMs: 300 },
      { names: fakeNames({ b: '10.144.0.2' }) },
    )
    await r.start()
    port = r.addresses()[0].udpPort!
  })
  after(async () => {
    await r.stop()
    await up.close()
  })

  it('relays upstream answers over UDP and TCP, keeping the client id', async () => {
    for (const tcp of [false, true]) {
      const q = buildQuery('example.test', TYPE.A, { id: 4242 })
      const raw = tcp ? await tcpExchange(port, q) : await udpExchange(port, q)
      assert.ok(raw)
      const res = Packet.parse(raw)
      assert.equal(res.header.id, 4242)
      assert.equal(res.header.rcode, RCODE.NOERROR)
      assert.equal(res.answers[0].address, '192.0.2.7')
      assert.equal(res.answers[0].ttl, 300, 'upstream TTLs are relayed untouched')
      assert.equal(up.seen.at(-1)?.transport, tcp ? 'tcp' : 'udp', 'TCP queries go upstream over TCP')
    }
    assert.equal((await ask(port, 'nothing.test', TYPE.A)).header.rcode, RCODE.NXDOMAIN)
    assert.ok(r.counters().forwarded >= 3)
  })

  it('forwards UDP queries byte-for-byte (EDNS kept)', async () => {
    await ask(port, 'example.test', TYPE.A, { edns: true })
    assert.equal(up.seen.at(-1)?.edns, true)
  })

  it('never sends .mesh questions upstream', async () => {
    const n = up.seen.length
    assert.equal((await ask(port, 'b.mesh', TYPE.A)).answers[0].address, '10.144.0.2')
    assert.equal((await ask(port, 'nosuch.mesh', TYPE.A)).header.rcode, RCODE.NXDOMAIN)
    assert.equal(up.seen.length, n)
  })

  it('big answers: TC over UDP, whole over TCP', async () => {
    const udp = await ask(port, 'big.test', TYPE.TXT)
    assert.equal(udp.header.tc, 1)
    const tcp = await ask(port, 'big.test', TYPE.TXT, { tcp: true })
    assert.equal(tcp.header.tc, 0)
    assert.equal(tcp.answers.length, 40)
  })

  it('dig through the resolver', async (t) => {
    if (!(await hasDig())) return t.skip('dig is not installed')
    assert.equal(await dig(port, 'example.test', '+short'), '192.0.2.7')
    assert.equal(await dig(port, 'example.test', '+short', '+tcp'), '192.0.2.7')
  })

  it('an upstream that is down is skipped for the next; all down is SERVFAIL', async () => {
    const dead = await deadPort()
    r.setUpstreams([`127.0.0.1:${dead}`, `127.0.0.1:${up.port}`])
    assert.equal((await ask(port, 'example.test', TYPE.A)).answers[0].address, '192.0.2.7')
    r.setUpstreams([`127.0.0.1:${dead}`])
    const before = r.counters().servfail
    const t0 = Date.now()
    assert.equal((await ask(port, 'example.test', TYPE.A)).header.rcode, RCODE.SERVFAIL)
    assert.equal((await ask(port, 'example.test', TYPE.A, { tcp: true })).header.rcode, RCODE.SERVFAIL)
    assert.ok(Date.now() - t0 < 2000, 'within the upstream timeouts')
    assert.equal(r.counters().servfail, before + 2)
    // Still answers its own zone.
    assert.equal((await ask(port, 'b.mesh', TYPE.A)).answers[0].address, '10.144.0.2')
    r.setUpstreams([`127.0.0.1:${up.port}`])
  })

  it('SERVFAIL from an upstream moves on to the next; the last one is relayed', async () => {
    assert.equal((await ask(port, 'fail.test', TYPE.A)).header.rcode, RCODE.SERVFAIL)
  })

  it('no upstreams: REFUSED', async () => {
    r.setUpstreams([])
    assert.equal((await ask(port, 'example.test', TYPE.A)).header.rcode, RCODE.REFUSED)
    r.setUpstreams([`127.0.0.1:${up.port}`])
  })
})

describe('resolver: rate limit', () => {
  it('token bucket: burst, then qps', () => {
    const l = new RateLimiter({ qps: 10, burst: 5, maxSources: 2 })
    let ok = 0
    for (let i = 0; i < 20; i++) if (l.take('a', 0)) ok++
    assert.equal(ok, 5)
    assert.equal(l.take('a', 50), false, 'half a token after 50 ms')
    assert.equal(l.take('a', 100), true, 'one token after 100 ms')
    assert.equal(l.take('b', 0), true, 'sources are independent')
    l.take('c', 0)
    assert.equal(l.sources, 2, 'the table is bounded')
  })

  it('a burst beyond the limit is dropped and counted; the resolver answers afterwards', async () => {
    const r = createResolver(
      { listen: ['127.0.0.1'], port: 0, rateLimit: { qps: 20, burst: 30 } },
      { names: fakeNames({ b: '10.144.0.2' }) },
    )
    await r.start()
    const port = r.addresses()[0].udpPort!
    try {
      const sock = createSocket('udp4')
      let replies = 0
      sock.on('message', () => replies++)
      const q = buildQuery('b.mesh', TYPE.A)
      for (let i = 0; i < 300; i++) {
        await new Promise<void>((resolve) => sock.send(q, port, '127.0.0.1', () => resolve()))
        // Let the resolver read, so the kernel's receive buffer never overflows.
        if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve))
      }
      await new Promise((resolve) => setTimeout(resolve, 300))
      sock.close()
      const c = r.counters()
      assert.equal(c.queries, 300)
      assert.ok(replies >= 30 && replies < 60, `replies ${replies}`)
      assert.equal(c.ratelimited, 300 - replies)
      // TCP over the limit: REFUSED rather than silence.
      const refused = await ask(port, 'b.mesh', TYPE.A, { tcp: true })
      assert.ok(refused.header.rcode === RCODE.REFUSED || refused.answers.length === 1)
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.equal((await ask(port, 'b.mesh', TYPE.A)).answers[0].address, '10.144.0.2')
    } finally {
      await r.stop()
    }
  })
})
