import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Packet } from 'dns2'
import { createResolver, DEFAULT_TTL, type Resolver } from '../src/index.ts'
import { ask, buildQuery, dig, fakeNames, hasDig, tcpExchange, udpExchange } from './helpers.ts'

const { TYPE, RCODE } = Packet

describe('resolver: the mesh zone', () => {
  const names = fakeNames({ a: '10.144.0.1', b: '10.144.0.2', 'web-1': '10.144.3.7' })
  let r: Resolver
  let port: number

  before(async () => {
    r = createResolver({ listen: ['127.0.0.1'], port: 0, overlayCidr: '10.144.0.0/16' }, { names })
    await r.start()
    const a = r.addresses()[0]
    assert.equal(a.udpPort, a.tcpPort, 'port 0 picks one port for both transports')
    port = a.udpPort!
  })
  after(() => r.stop())

  for (const tcp of [false, true]) {
    const via = tcp ? 'tcp' : 'udp'
    it(`A for <name>.mesh and <name>.<network>.mesh, case-insensitive (${via})`, async () => {
      for (const q of ['b.mesh', 'B.Mesh', 'b.home.mesh', 'b.HOME.mesh.']) {
        const res = await ask(port, q, TYPE.A, { tcp })
        assert.equal(res.header.rcode, RCODE.NOERROR, q)
        assert.equal(res.header.aa, 1)
        assert.equal(res.answers.length, 1, q)
        assert.equal(res.answers[0].address, '10.144.0.2')
        assert.equal(res.answers[0].ttl, DEFAULT_TTL)
        assert.equal(res.answers[0].ttl, 60)
        assert.equal(res.answers[0].name, q.replace(/\.$/, ''), 'the answer echoes the asked name')
      }
    })

    it(`PTR for overlay addresses (${via})`, async () => {
      const res = await ask(port, '7.3.144.10.in-addr.arpa', TYPE.PTR, { tcp })
      assert.equal(res.header.rcode, RCODE.NOERROR)
      assert.equal(res.answers[0].domain, 'web-1.mesh')
      assert.equal(res.answers[0].ttl, 60)
      const unknown = await ask(port, '9.9.144.10.in-addr.arpa', TYPE.PTR, { tcp })
      assert.equal(unknown.header.rcode, RCODE.NXDOMAIN)
    })

    it(`bare mesh answers this node, NXDOMAIN for unknown names, NODATA for other types (${via})`, async () => {
      const self = await ask(port, 'mesh', TYPE.A, { tcp })
      assert.equal(self.answers[0].address, '10.144.0.1')
      const nx = await ask(port, 'nosuch.mesh', TYPE.A, { tcp })
      assert.equal(nx.header.rcode, RCODE.NXDOMAIN)
      assert.equal(nx.answers.length, 0)
      assert.equal(nx.authorities[0]?.type, TYPE.SOA, 'negative answers carry the SOA')
      for (const q of ['x.b.home.mesh', 'b.other.mesh', '_sip._udp.mesh', 'bad_label.mesh']) {
        assert.equal((await ask(port, q, TYPE.A, { tcp })).header.rcode, RCODE.NXDOMAIN, q)
      }
      const aaaa = await ask(port, 'b.mesh', TYPE.AAAA, { tcp })
      assert.equal(aaaa.header.rcode, RCODE.NOERROR)
      assert.equal(aaaa.answers.length, 0)
      const mx = await ask(port, 'b.home.mesh', TYPE.MX, { tcp })
      assert.equal(mx.header.rcode, RCODE.NOERROR)
      assert.equal(mx.answers.length, 0)
    })

    it(`non-mesh names with no upstreams are REFUSED (${via})`, async () => {
      const res = await ask(port, 'example.com', TYPE.A, { tcp })
      assert.equal(res.header.rcode, RCODE.REFUSED)
      // A PTR outside the overlay is not ours either.
      assert.equal(
        (await ask(port, '1.1.168.192.in-addr.arpa', TYPE.PTR, { tcp })).header.rcode,
        RCODE.REFUSED,
      )
    })
  }

  it('EDNS queries get an OPT record back', async () => {
    const res = await ask(port, 'a.mesh', TYPE.A, { edns: true })
    assert.equal(res.answers[0].address, '10.144.0.1')
    assert.ok(res.additionals.some((x) => x.type === TYPE.EDNS))
  })

  it('names added later resolve without a restart', async () => {
    names.table.late = '10.144.9.9'
    assert.equal((await ask(port, 'late.mesh', TYPE.A)).answers[0].address, '10.144.9.9')
    delete names.table.late
    assert.equal((await ask(port, 'late.mesh', TYPE.A)).header.rcode, RCODE.NXDOMAIN)
  })

  it('answers dig (UDP and TCP, -x)', async (t) => {
    if (!(await hasDig())) return t.skip('dig is not installed')
    assert.equal(await dig(port, 'b.mesh', '+short'), '10.144.0.2')
    assert.equal(await dig(port, 'b.home.mesh', '+short', '+tcp'), '10.144.0.2')
    assert.equal(await dig(port, '-x', '10.144.3.7', '+short'), 'web-1.mesh.')
    assert.equal(await dig(port, 'mesh', '+short'), '10.144.0.1')
    assert.match(await dig(port, 'nosuch.mesh'), /status: NXDOMAIN/)
    assert.match(await dig(port, 'b.mesh', '+noall', '+answer'), /^b\.mesh\.\s+60\s+IN\s+A\s+10\.144\.0\.2$/)
  })

  it('malformed queries: FORMERR or dropped, never a crash', async () => {
    const before = r.counters().malformed
    // Two questions.
    const two = Buffer.from(buildQuery('a.mesh', TYPE.A))
    two.writeUInt16BE(2, 4)
    const res = await udpExchange(port, two)
    assert.ok(res)
    assert.equal(res[3] & 0x0f, RCODE.FORMERR)
    // Too short for a header: dropped.
    assert.equal(await udpExchange(port, Buffer.from([1, 2, 3]), 300), null)
    // A response sent to us: dropped.
    const resp = Buffer.from(buildQuery('a.mesh', TYPE.A))
    resp[2] |= 0x80
    assert.equal(await udpExchange(port, resp, 300), null)
    // Compression loop in the question name.
    const loop = Buffer.concat([
      buildQuery('a.mesh', TYPE.A).subarray(0, 12),
      Buffer.from([0xc0, 12, 0, 1, 0, 1]),
    ])
    assert.equal((await udpExchange(port, loop))![3] & 0x0f, RCODE.FORMERR)
    // Over TCP a message too short for a header drops the connection; a header with a strange opcode
    // is NOTIMP.
    assert.equal(await tcpExchange(port, Buffer.from('short'), 500), null)
    assert.equal((await tcpExchange(port, Buffer.from('not dns at all')))![3] & 0x0f, RCODE.NOTIMP)
    assert.ok(r.counters().malformed >= before + 4)
    // Other opcodes: NOTIMP.
    const notify = Buffer.from(buildQuery('a.mesh', TYPE.A))
    notify[2] = (notify[2] & 0x87) | (4 << 3)
    assert.equal((await udpExchange(port, notify))![3] & 0x0f, RCODE.NOTIMP)
    // Still answering.
    assert.equal((await ask(port, 'a.mesh', TYPE.A)).answers[0].address, '10.144.0.1')
  })

  it('counts what it does', () => {
    const c = r.counters()
    assert.ok(c.queries > 0 && c.answered > 0 && c.nxdomain > 0 && c.refused > 0 && c.malformed > 0)
  })
})

describe('resolver: setup', () => {
  it('rejects bad config with named errors', () => {
    const names = fakeNames({})
    assert.throws(() => createResolver({ listen: [] }, { names }), { name: 'InvalidResolverConfigError' })
    assert.throws(() => createResolver({ listen: ['nope'] }, { names }), {
      name: 'InvalidResolverConfigError',
    })
    assert.throws(() => createResolver({ listen: ['127.0.0.1'], overlayCidr: 'x' }, { names }), {
      name: 'InvalidResolverConfigError',
    })
  })

  it('a taken port is a ResolverBindError, and start/stop are idempotent', async () => {
    const names = fakeNames({})
    const a = createResolver({ listen: ['127.0.0.1'], port: 0 }, { names })
    await a.start()
    await a.start()
    const b = createResolver({ listen: ['127.0.0.1'], port: a.addresses()[0].udpPort! }, { names })
    await assert.rejects(b.start(), { name: 'ResolverBindError' })
    assert.equal(b.started, false)
    await a.stop()
    await a.stop()
    assert.deepEqual(a.addresses(), [])
  })

  it('skips upstreams that are not IPs or point back at itself', () => {
    const r = createResolver({ listen: ['127.0.0.1'], port: 5353 }, { names: fakeNames({}) })
    r.setUpstreams(['1.1.1.1', '9.9.9.9:5353', '[2606:4700::1111]:53', 'dns.google', '127.0.0.1:5353', '::1'])
    assert.deepEqual(r.upstreams(), ['1.1.1.1:53', '9.9.9.9:5353', '[2606:4700::1111]:53', '[::1]:53'])
  })

  it('a NameSource that throws or returns garbage is "no such name"', async () => {
    const r = createResolver(
      { listen: ['127.0.0.1'], port: 0 },
      {
        names: {
          lookupName: (n) => {
            if (n === 'boom') throw new Error('boom')
            return 'not-an-ip'
          },
          lookupIp: () => {
            throw new Error('boom')
          },
          selfIp: () => null,
          networkName: () => null,
        },
      },
    )
    for (const [name, type] of [
      ['boom.mesh', TYPE.A],
      ['x.mesh', TYPE.A],
      ['1.0.144.10.in-addr.arpa', TYPE.PTR],
      ['mesh', TYPE.A],
    ] as const) {
      const out = await r.query(buildQuery(name, type), 'udp', '127.0.0.1')
      assert.ok(out, name)
      const rc = Packet.parse(out).header.rcode
      assert.ok(rc === RCODE.NXDOMAIN || rc === RCODE.NOERROR || rc === RCODE.REFUSED, `${name}: ${rc}`)
    }
  })
})
