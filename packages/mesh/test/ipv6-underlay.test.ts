/**
 * Issue 10, the IPv6 underlay: which IPv6 addresses are endpoints (only global unicast is ever
 * announced or dialled), our CONNECT with IPv6 candidates and its caps, the rule that picks the
 * same punched socket on both sides, and the DCUtR responder's bounds with IPv6 candidates
 * (in-process, a dialer that records and sends nothing).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { addrFamily, announceableFamily, ipFamily, isGlobalIpv6, tcpAddr } from '../src/ip-family.ts'
import { createLogger } from '../src/logger.ts'
import { candidateAddrs, selectCandidates, toCandidates } from '../src/reachability/candidates.ts'
import { MAX_PUNCH_DIALS, MAX_PUNCH_IPV6_CANDIDATES } from '../src/reachability/constants.ts'
import { askDialBack, DIALBACK_PROTOCOL, DialBackResponder, remoteIp } from '../src/reachability/dialback.ts'
import { HolePuncher, type PortDialer, type PunchResult } from '../src/reachability/holepunch.ts'
import { hostOfNode } from '../src/reachability/host.ts'
import { adapterOf } from '../src/reachability/libp2p-adapter.ts'
import { pickPreferred } from '../src/reachability/punch-pick.ts'
import { createTransport, type MeshLibp2p } from '../src/transport.ts'
import { connectExchange } from './dcutr-peer.ts'
import { loopbackNode, until } from './helpers.ts'

describe('IPv6 addresses: only global unicast is an endpoint', () => {
  it('classifies every kind of IPv6 address', () => {
    const global = ['2001:2::10', '2a01:4f8::1', '2600::1', '3fff:ffff::1']
    const not = [
      'fe80::1', // link-local: needs a zone, means nothing elsewhere
      'fd12:3456::1', // ULA: never routed between homes
      'fc00::1',
      '::1',
      '::',
      'ff02::1', // multicast
      '::ffff:198.51.100.7', // v4-mapped
      '2001:db8::1', // documentation (RFC 3849)
      '4000::1', // outside 2000::/3
      '198.51.100.7', // not IPv6 at all
      'not an ip',
    ]
    for (const ip of global) assert.equal(isGlobalIpv6(ip), true, ip)
    for (const ip of not) assert.equal(isGlobalIpv6(ip), false, ip)
    assert.equal(ipFamily('2001:2::10'), 'ipv6')
    assert.equal(ipFamily('198.51.100.7'), 'ipv4')
    assert.equal(ipFamily('nas.example.org'), null)
  })

  it('announces IPv4 and /dns as before, IPv6 only when global', () => {
    assert.ok(announceableFamily('/ip4/192.168.1.10/tcp/7946'))
    assert.ok(announceableFamily('/dns4/nas.example.org/tcp/7946'))
    assert.ok(announceableFamily('/ip6/2001:2:0:1::10/tcp/7946/p2p/12D3KooWx'))
    for (const a of [
      '/ip6/fe80::1/tcp/7946',
      '/ip6/fd00::1/tcp/7946',
      '/ip6/::1/tcp/7946',
      '/ip6/::/tcp/7946',
    ])
      assert.equal(announceableFamily(a), false, a)
    assert.equal(addrFamily('/ip6/2001:2::1/tcp/1'), 'ipv6')
    assert.equal(addrFamily('/p2p/12D3KooWx/p2p-circuit'), null)
    assert.equal(tcpAddr('2001:2::1', 7946), '/ip6/2001:2::1/tcp/7946')
    assert.equal(tcpAddr('198.51.100.7', 7946), '/ip4/198.51.100.7/tcp/7946')
  })
})

describe('hole-punch candidates over IPv6', () => {
  const ctx = {
    underlay: (ip: string) => !ip.startsWith('10.144.'),
    ourObserved: new Set(['198.51.100.7']),
    sharesNat: false,
    peerMapped: new Set<string>(),
  }

  it('a CONNECT carries IPv6 candidates; only global ones are dialled, even behind a shared NAT', () => {
    const remote = toCandidates([
      '/ip6/2001:2:0:2::10/tcp/7946',
      '/ip6/fe80::1/tcp/7946',
      '/ip6/fd00::5/tcp/7946',
      '/ip6/::1/tcp/7946',
      '/ip6/2001:db8::1/tcp/7946',
      '/ip4/203.0.113.1/tcp/7946',
    ])
    assert.ok(!remote.some((c) => c.ip === '::1'), 'loopback is never a candidate')
    for (const shared of [false, true]) {
      const s = selectCandidates(remote, { ...ctx, sharesNat: shared })
      assert.deepEqual(
        s.dial.map((c) => c.ip),
        ['2001:2:0:2::10', '203.0.113.1'],
      )
      assert.equal(s.dropped.lan, 3, 'link-local, ULA and documentation left out')
    }
  })

  it('our CONNECT: global IPv6 first (at most two), then observed IPv4, then LAN; capped', () => {
    const ours = candidateAddrs({
      observed: ['198.51.100.7'],
      lan: ['192.168.1.10', '192.168.1.11'],
      ipv6: ['fe80::1', '2001:2:0:1::10', '2001:2:0:1::11', '2001:2:0:1::12', 'fd00::1'],
      port4: 7946,
      port6: 7947,
    })
    assert.deepEqual(ours, [
      '/ip6/2001:2:0:1::10/tcp/7947',
      '/ip6/2001:2:0:1::11/tcp/7947',
      '/ip4/198.51.100.7/tcp/7946',
      '/ip4/192.168.1.10/tcp/7946',
    ])
    assert.equal(ours.length, MAX_PUNCH_DIALS)
    assert.equal(ours.filter((a) => a.startsWith('/ip6/')).length, MAX_PUNCH_IPV6_CANDIDATES)
    // no IPv6 listener: no IPv6 candidates
    const v4only = candidateAddrs({
      observed: [],
      lan: ['192.168.1.10'],
      ipv6: ['2001:2::1'],
      port4: 7946,
      port6: null,
    })
    assert.deepEqual(v4only, ['/ip4/192.168.1.10/tcp/7946'])
    // every candidate decodes on the far side
    const back = toCandidates(ours.map((a) => multiaddr(a).bytes))
    assert.equal(back.length, ours.length)
  })
})

describe('picking the punched socket both sides keep', () => {
  const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms))
  const failLater = (ms: number) =>
    new Promise<never>((_, j) => setTimeout(() => j(new Error(`failed after ${ms}`)), ms))

  it('IPv6 wins even when IPv4 connected first, within the grace', async () => {
    const got = await pickPreferred([later(5, 'v4'), later(30, 'v6')], [false, true], 200)
    assert.equal(got, 'v6')
  })

  it('IPv4 is kept once the grace passed, or once every IPv6 attempt failed', async () => {
    const t0 = performance.now()
    assert.equal(await pickPreferred([later(5, 'v4'), later(1000, 'v6')], [false, true], 50), 'v4')
    assert.ok(performance.now() - t0 < 500, 'did not wait for the slow IPv6 attempt')
    const t1 = performance.now()
    assert.equal(await pickPreferred([later(5, 'v4'), failLater(20)], [false, true], 5000), 'v4')
    assert.ok(performance.now() - t1 < 1000, 'did not wait out the grace after IPv6 failed')
    assert.equal(await pickPreferred([later(5, 'v4')], [false], 5000), 'v4', 'no IPv6 candidate: at once')
  })

  it('fails when every attempt failed', async () => {
    await assert.rejects(pickPreferred([failLater(5), failLater(10)], [false, true], 50), AggregateError)
  })
})

describe('DCUtR responder with IPv6 candidates (in-process, loopback TCP through a member relay)', () => {
  let relay: MeshLibp2p
  let a: MeshLibp2p
  let b: MeshLibp2p
  let puncher: HolePuncher
  let relayed: Connection
  const dials: Array<{ local: number; remote: string }> = []
  const results: PunchResult[] = []
  const ourConnect: string[] = []
  const spyDial: PortDialer = async (init) => {
    dials.push({ local: init.localPort, remote: `${init.remoteAddress}:${init.remotePort}` })
    throw new Error('test dialer: not sending anything')
  }

  before(async () => {
    relay = await loopbackNode(true)
    a = await loopbackNode()
    b = await loopbackNode()
    await a.dial(relay.getMultiaddrs()[0])
    await adapterOf(a).reserveOn(relay.peerId.toString())
    puncher = new HolePuncher({
      host: hostOfNode(a),
      log: createLogger('v6-a', { level: 'error' }),
      selfId: a.peerId.toString(),
      // distinct ports per family: the dial must leave from the listener of its family
      listenPort: (family) => (family === 'ipv6' ? 7947 : 7946),
      candidates: () => {
        const c = ['/ip6/2001:2:0:1::10/tcp/7947', '/ip4/198.51.100.7/tcp/7946']
        ourConnect.push(...c)
        return c
      },
      observedIps: () => ['198.51.100.7'],
      isMember: () => true,
      underlay: (ip) => !ip.startsWith('10.144.'),
      onResult: (_peer, r) => results.push(r),
      dial: spyDial,
    })
    await puncher.start()
    await b.dial(relay.getMultiaddrs()[0])
    const circuit = multiaddr(`${relay.getMultiaddrs()[0].toString()}/p2p-circuit/p2p/${a.peerId.toString()}`)
    relayed = await b.dial(circuit, { signal: AbortSignal.timeout(5000) })
  })
  after(async () => {
    await puncher?.stop()
    for (const n of [b, a, relay]) await n?.stop()
  })

  it('dials only global IPv6 (from the IPv6 port), at most MAX_PUNCH_DIALS in all', async () => {
    const addrs = [
      '/ip6/fe80::1/tcp/22',
      '/ip6/fd00::1/tcp/6379',
      '/ip6/::1/tcp/7946',
      ...Array.from({ length: 12 }, (_, i) => `/ip6/2001:2:0:2::${i + 1}/tcp/7946`),
      '/ip4/203.0.113.1/tcp/7946',
    ]
    await connectExchange(relayed, addrs)
    await until(() => results.length === 1, 8000, 'the responder to punch')
    assert.ok(dials.length > 0 && dials.length <= MAX_PUNCH_DIALS, JSON.stringify(dials))
    for (const d of dials) {
      assert.match(d.remote, /^2001:2:0:2::\d+:7946$/, `only global IPv6 dialled: ${d.remote}`)
      assert.equal(d.local, 7947, 'from the IPv6 listening port')
    }
    const s = puncher.stats()
    assert.equal(s.droppedLan, 2, 'link-local and ULA left out')
    assert.equal(s.droppedCapped, 13 - MAX_PUNCH_DIALS)
    assert.ok(
      ourConnect.some((a) => a.startsWith('/ip6/')),
      'our CONNECT carried our IPv6 candidate',
    )
    assert.equal(results[0].ok, false)
  })
})

describe('dial-back over IPv6 (in-process, ::1)', () => {
  let a: MeshLibp2p
  let b: MeshLibp2p
  before(async () => {
    const node6 = async () => {
      const lp = await createTransport({
        privateKey: await generateKeyPair('Ed25519'),
        networkId: 'dialback6',
        listen: ['/ip6/::1/tcp/0'],
      })
      await lp.start()
      return lp
    }
    a = await node6()
    b = await node6()
  })
  after(async () => {
    await a?.stop()
    await b?.stop()
  })

  it('the member dials the IPv6 address it sees the asker at, on the port asked, and says so', async () => {
    const responder = new DialBackResponder()
    await a.handle(DIALBACK_PROTOCOL, (stream, conn) => void responder.handle(stream, conn))
    // libp2p lists no IPv6 loopback in getMultiaddrs(): the listener's own address
    const listen = (n: MeshLibp2p) => adapterOf(n).tcpListenAddrs()[0]
    const conn = await b.dial(multiaddr(`${listen(a)}/p2p/${a.peerId.toString()}`))
    assert.match(conn.remoteAddr.toString(), /^\/ip6\/::1\//)
    assert.equal(remoteIp(conn), '::1')
    const port = Number(/\/tcp\/(\d+)/.exec(listen(b))?.[1])
    const answer = await askDialBack(conn, port)
    assert.deepEqual(answer, { ok: true, addr: `/ip6/::1/tcp/${port}`, detail: '' })
    assert.equal(responder.counters.served, 1)
  })
})
