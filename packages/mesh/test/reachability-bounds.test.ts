/**
 * Issue 8 §5, the DCUtR responder against a hostile member, in-process: three libp2p nodes on
 * loopback TCP (a member relay, the responder A, the attacker B reaching A through the relay),
 * the real HolePuncher on A with a dialer that records each dial and sends nothing anywhere.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Connection } from '@libp2p/interface'
import { DCUTR_CONNECT, decodeHolePunch, encodeHolePunch, MAX_DCUTR_ADDRS } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import { createLogger } from '../src/logger.ts'
import { candidateAddrs, isLanIp, selectCandidates } from '../src/reachability/candidates.ts'
import { MAX_OBSERVED_IPS, MAX_PUNCH_DIALS } from '../src/reachability/constants.ts'
import { HolePuncher, type PortDialer, type PunchResult } from '../src/reachability/holepunch.ts'
import { hostOfNode } from '../src/reachability/host.ts'
import { adapterOf } from '../src/reachability/libp2p-adapter.ts'
import { ObservedIps } from '../src/reachability/observed.ts'
import type { MeshLibp2p } from '../src/transport.ts'
import { connectExchange } from './dcutr-peer.ts'
import { loopbackNode, until } from './helpers.ts'

describe('DCUtR responder bounds (in-process, loopback TCP through a member relay)', () => {
  let relay: MeshLibp2p
  let a: MeshLibp2p
  let b: MeshLibp2p
  let puncher: HolePuncher
  let relayed: Connection
  const dials: string[] = []
  const results: PunchResult[] = []
  // records the dial and fails it: no packet leaves the process
  const spyDial: PortDialer = async (init) => {
    dials.push(`${init.remoteAddress}:${init.remotePort}`)
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
      log: createLogger('rb-a', { level: 'error' }),
      selfId: a.peerId.toString(),
      listenPort: () => 7946,
      candidates: () => ['/ip4/198.51.100.7/tcp/7946'],
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
    assert.ok(relayed.remoteAddr.toString().includes('/p2p-circuit'), 'B reaches A through the relay')
  })
  after(async () => {
    await puncher?.stop()
    for (const n of [b, a, relay]) await n?.stop()
  })

  it('dials at most MAX_PUNCH_DIALS of a CONNECT, never LAN or overlay addresses without a shared NAT', async () => {
    const addrs = [
      ...Array.from({ length: 20 }, (_, i) => `/ip4/203.0.113.${i + 1}/tcp/7946`),
      '/ip4/192.168.1.1/tcp/22',
      '/ip4/10.0.0.1/tcp/6379',
      '/ip4/10.144.0.9/tcp/7946',
    ]
    // public ones last in this variant, so a responder without the LAN filter would reach them
    await connectExchange(relayed, [...addrs.slice(20), ...addrs.slice(0, 20)])
    await until(() => results.length === 1, 5000, 'the responder to punch')
    assert.ok(dials.length <= MAX_PUNCH_DIALS, `dialled ${dials.length}: ${dials.join(', ')}`)
    assert.ok(dials.length > 0, 'it did punch the public candidates')
    assert.ok(
      dials.every((d) => !isLanIp(d.split(':')[0]) && !d.startsWith('10.144.')),
      `no LAN or overlay dial: ${dials.join(', ')}`,
    )
    const s = puncher.stats()
    assert.equal(s.droppedLan, 2)
    assert.equal(s.droppedOverlay, 1)
    assert.equal(s.droppedCapped, 20 - MAX_PUNCH_DIALS)
  })

  it('refuses a second CONNECT from the same peer within the back-off, dialling nothing', async () => {
    const before = dials.length
    const refusedBefore = puncher.stats().refusedBackoff
    await assert.rejects(connectExchange(relayed, ['/ip4/203.0.113.99/tcp/7946']), 'the stream is refused')
    assert.equal(puncher.stats().refusedBackoff, refusedBefore + 1, 'counted')
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(dials.length, before, 'no dial for the refused CONNECT')
  })
})

describe('candidate selection and our own CONNECT', () => {
  const ctx = {
    underlay: (ip: string) => !ip.startsWith('10.144.'),
    ourObserved: new Set(['198.51.100.7']),
    sharesNat: false,
    peerMapped: new Set<string>(),
  }
  const c = (ip: string) => ({ ip, port: 7946 })

  it('LAN candidates only behind a shared NAT, or when the peer signed them as its mapping', () => {
    const remote = [c('203.0.113.1'), c('192.168.1.20'), c('100.64.3.3')]
    assert.deepEqual(
      selectCandidates(remote, ctx).dial.map((x) => x.ip),
      ['203.0.113.1'],
    )
    assert.deepEqual(
      selectCandidates(remote, { ...ctx, sharesNat: true }).dial.map((x) => x.ip),
      ['203.0.113.1', '192.168.1.20', '100.64.3.3'],
    )
    assert.deepEqual(
      selectCandidates(remote, { ...ctx, peerMapped: new Set(['100.64.3.3']) }).dial.map((x) => x.ip),
      ['203.0.113.1', '100.64.3.3'],
    )
  })

  it('observed IPs keep only the most recent few, and our CONNECT always decodes', () => {
    const observed = new ObservedIps()
    for (let i = 0; i < 100; i++) observed.add(`203.0.113.${i}`, i)
    assert.equal(observed.size, MAX_OBSERVED_IPS)
    assert.deepEqual(observed.list(), ['203.0.113.99', '203.0.113.98', '203.0.113.97', '203.0.113.96'])
    observed.add('203.0.113.97', 101) // seen again: the freshest now
    assert.equal(observed.list()[0], '203.0.113.97')
    // what we'd announce with many observed and LAN addresses: capped, and the far side decodes it
    const many = Array.from({ length: 50 }, (_, i) => `198.18.0.${i}`)
    const ours = candidateAddrs({
      observed: [...observed.list(), ...many],
      lan: many,
      ipv6: many.map((_, i) => `2001:2:0:1::${i + 1}`),
      port4: 7946,
      port6: 7946,
    })
    assert.ok(ours.length <= MAX_PUNCH_DIALS)
    const msg = decodeHolePunch(
      encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: ours.map((a) => multiaddr(a).bytes) }),
    )
    assert.ok(msg.ok && msg.value.obsAddrs.length === ours.length && ours.length <= MAX_DCUTR_ADDRS)
  })
})
