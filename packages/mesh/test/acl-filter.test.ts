import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HEADER_OK, PacketHeader } from '@meshlan/wire'
import type { AclContext, CompiledAcl, PacketFilter } from '../src/acl/index.ts'
import {
  ACCEPT,
  allowAllAcl,
  compileAcl,
  createConntrack,
  createPacketFilter,
  DROP_ACL,
  DROP_NOT_MEMBER,
  DROP_SPOOF,
  mayOpenStream,
  parseAcl,
  parseIpv4,
  VERDICT_COUNT,
} from '../src/acl/index.ts'

const TCP = 6
const UDP = 17
const ICMP = 1
const ECHO_REQUEST = 8
const ECHO_REPLY = 0

const SERVER = parseIpv4('10.144.0.1')!
const GUEST = parseIpv4('10.144.0.50')!
const GUEST2 = parseIpv4('10.144.0.51')!

/**
 * Real packet bytes, parsed by the header parser the pump uses: TCP/UDP with ports, ICMP with its
 * type and `sport` as the echo identifier, any other protocol with 8 zero bytes.
 */
function pk(
  proto: number,
  src: number,
  dst: number,
  sport: number,
  dport: number,
  icmpType: number,
): PacketHeader {
  const l4 =
    proto === TCP || proto === UDP
      ? [sport >> 8, sport & 255, dport >> 8, dport & 255, ...new Array(proto === TCP ? 16 : 4).fill(0)]
      : proto === ICMP
        ? [icmpType, 0, 0, 0, sport >> 8, sport & 255, 0, 1]
        : new Array(8).fill(0)
  const b = new Uint8Array(20 + l4.length)
  b[0] = 0x45
  b[3] = b.length
  b[8] = 64
  b[9] = proto
  new DataView(b.buffer).setUint32(12, src >>> 0)
  new DataView(b.buffer).setUint32(16, dst >>> 0)
  b.set(l4, 20)
  const h = new PacketHeader()
  assert.equal(h.parse(b, 0, b.length), HEADER_OK)
  return h
}

const ctx = (keyName: string): AclContext => ({
  nodeIp: (name) => (name === 'server' ? SERVER : undefined),
  tagIps: () => [],
  keyName,
})

function compile(text: string, keyName: string): CompiledAcl {
  const r = parseAcl(text)
  assert.ok(r.ok, JSON.stringify(r))
  return compileAcl(r.acl, ctx(keyName))
}

const admin = compileAcl(allowAllAcl(), ctx('admin'))
const guests = compile('{"rules":[{"to":["node:server"],"ports":["22/tcp"],"comment":"ssh only"}]}', 'guests')

/** Both ends of the server↔guest link, each with its own conntrack, like two real nodes. */
function link() {
  const server = createPacketFilter({
    selfIp: SERVER,
    peerIp: GUEST,
    inbound: guests,
    outbound: admin,
    conntrack: createConntrack({ capacity: 64 }),
  })
  const guest = createPacketFilter({
    selfIp: GUEST,
    peerIp: SERVER,
    inbound: admin,
    outbound: guests,
    conntrack: createConntrack({ capacity: 64 }),
  })
  return { server, guest }
}

/** Sends one packet from `from` to `to`: the sender's egress verdict and, if accepted, the receiver's ingress. */
function send(
  from: PacketFilter,
  to: PacketFilter,
  proto: number,
  sport: number,
  dport: number,
  icmpType: number,
  now: number,
): [number, number] {
  const src = from.selfIp
  const dst = to.selfIp
  const out = from.checkEgress(pk(proto, src, dst, sport, dport, icmpType), now)
  const inn = to.checkIngress(pk(proto, src, dst, sport, dport, icmpType), now)
  return [out, inn]
}

describe('packet filter: guests may only ssh to server; server is admin', () => {
  it('server pings guest; the reply passes on both sides', () => {
    const { server, guest } = link()
    for (const id of [0x1234, 0]) {
      assert.deepEqual(send(server, guest, ICMP, id, 0, ECHO_REQUEST, 1000), [ACCEPT, ACCEPT])
      assert.deepEqual(send(guest, server, ICMP, id, 0, ECHO_REPLY, 1001), [ACCEPT, ACCEPT])
    }
  })

  it('guest cannot ping server, not even while server pings guest', () => {
    const { server, guest } = link()
    assert.deepEqual(send(guest, server, ICMP, 7, 0, ECHO_REQUEST, 1000), [DROP_ACL, DROP_ACL])
    // an unsolicited echo reply is no reply either
    assert.deepEqual(send(guest, server, ICMP, 7, 0, ECHO_REPLY, 1000), [DROP_ACL, DROP_ACL])
    // server's ping with id 9 is tracked; a guest echo *request* with id 9 is still not a reply
    send(server, guest, ICMP, 9, 0, ECHO_REQUEST, 1000)
    assert.equal(server.checkIngress(pk(ICMP, GUEST, SERVER, 9, 0, ECHO_REQUEST), 1001), DROP_ACL)
    assert.equal(guest.checkEgress(pk(ICMP, GUEST, SERVER, 9, 0, ECHO_REQUEST), 1001), DROP_ACL)
  })

  it('guest opens TCP 22 and its replies pass; port 80 does not', () => {
    const { server, guest } = link()
    assert.deepEqual(send(guest, server, TCP, 40000, 22, 0, 1000), [ACCEPT, ACCEPT])
    assert.deepEqual(send(server, guest, TCP, 22, 40000, 0, 1001), [ACCEPT, ACCEPT])
    assert.deepEqual(send(guest, server, TCP, 40000, 22, 0, 1002), [ACCEPT, ACCEPT])
    assert.deepEqual(send(guest, server, TCP, 40001, 80, 0, 1003), [DROP_ACL, DROP_ACL])
    assert.equal(
      server.checkIngress(pk(17, GUEST, SERVER, 40000, 22, 0), 1003),
      DROP_ACL,
      'udp 22 is not tcp 22',
    )
  })

  it('server opens TCP to guest; the guest replies although its own key does not allow that port', () => {
    const { server, guest } = link()
    assert.deepEqual(send(server, guest, TCP, 50000, 8080, 0, 1000), [ACCEPT, ACCEPT])
    assert.deepEqual(send(guest, server, TCP, 8080, 50000, 0, 1001), [ACCEPT, ACCEPT])
    // but the guest cannot start a new connection from that port to another server port
    assert.deepEqual(send(guest, server, TCP, 8080, 50001, 0, 1002), [DROP_ACL, DROP_ACL])
  })

  it('replies stop passing once the flow has expired', () => {
    const server = createPacketFilter({
      selfIp: SERVER,
      peerIp: GUEST,
      inbound: guests,
      outbound: admin,
      conntrack: createConntrack({ capacity: 64, ttlMs: { icmp: 100 } }),
    })
    assert.equal(server.checkEgress(pk(ICMP, SERVER, GUEST, 5, 0, ECHO_REQUEST), 0), ACCEPT)
    assert.equal(server.checkIngress(pk(ICMP, GUEST, SERVER, 5, 0, ECHO_REPLY), 99), ACCEPT)
    assert.equal(server.checkIngress(pk(ICMP, GUEST, SERVER, 5, 0, ECHO_REPLY), 300), DROP_ACL)
  })

  it('drops spoofed sources and counts every verdict', () => {
    const { server } = link()
    assert.equal(server.checkIngress(pk(TCP, GUEST2, SERVER, 1, 22, 0), 0), DROP_SPOOF)
    server.checkIngress(pk(TCP, GUEST, SERVER, 1, 22, 0), 0)
    server.checkIngress(pk(TCP, GUEST, SERVER, 1, 80, 0), 0)
    server.checkIngress(pk(TCP, GUEST, SERVER, 2, 80, 0), 0)
    assert.equal(server.ingressCounters.length, VERDICT_COUNT)
    assert.equal(server.ingressCounters[ACCEPT], 1)
    assert.equal(server.ingressCounters[DROP_ACL], 2)
    assert.equal(server.ingressCounters[DROP_SPOOF], 1)
    assert.deepEqual(server.counters().ingress, {
      ACCEPT: 1,
      DROP_ACL: 2,
      DROP_SPOOF: 1,
      DROP_NOT_MEMBER: 0,
      DROP_NO_ROUTE: 0,
      DROP_MALFORMED: 0,
      DROP_ICMP_UNRELATED: 0,
    })
    server.resetCounters()
    assert.equal(server.ingressCounters[DROP_ACL], 0)
    const lax = createPacketFilter({
      selfIp: SERVER,
      peerIp: GUEST,
      inbound: admin,
      outbound: admin,
      conntrack: createConntrack({ capacity: 8 }),
      antiSpoof: false,
    })
    assert.equal(lax.checkIngress(pk(TCP, GUEST2, SERVER, 1, 22, 0), 0), ACCEPT)
  })

  it('replace() takes effect from the next packet; null means not a member', () => {
    const { server } = link()
    assert.equal(server.checkIngress(pk(TCP, GUEST, SERVER, 40000, 22, 0), 0), ACCEPT)
    const nothing = compile('{"rules":[]}', 'guests')
    server.replace(nothing, admin)
    assert.equal(
      server.checkIngress(pk(TCP, GUEST, SERVER, 40000, 22, 0), 1),
      DROP_ACL,
      'the guest-initiated flow is cut',
    )
    assert.equal(server.checkEgress(pk(TCP, SERVER, GUEST, 22, 40000, 0), 1), ACCEPT)
    server.replace(compile('{"rules":[{"to":["node:server"],"ports":["80/tcp"]}]}', 'guests'), admin)
    assert.equal(server.checkIngress(pk(TCP, GUEST, SERVER, 40001, 80, 0), 2), ACCEPT)
    server.replace(null, admin)
    assert.equal(server.checkIngress(pk(TCP, GUEST, SERVER, 40001, 80, 0), 3), DROP_NOT_MEMBER)
    server.replace(guests, null)
    assert.equal(server.checkEgress(pk(TCP, SERVER, GUEST, 1, 2, 0), 3), DROP_NOT_MEMBER)
    assert.equal(server.egressCounters[DROP_NOT_MEMBER], 1)
  })

  it('stream-open: a link has business when either side may reach the other', () => {
    const { server, guest } = link()
    assert.equal(server.streamAllowed(), true)
    assert.equal(guest.streamAllowed(), true)
    assert.equal(mayOpenStream(GUEST, GUEST2, guests, guests), false, 'two guests have nothing to say')
    assert.equal(mayOpenStream(GUEST, SERVER, admin, guests), true)
    assert.equal(mayOpenStream(SERVER, GUEST, null, null), false)
  })

  it('explain says why', () => {
    assert.equal(
      guests.explain(pk(ICMP, GUEST, SERVER, 0, 0, 8)),
      'no rule of key guests allows icmp type 8 to 10.144.0.1',
    )
    assert.match(
      guests.explain(pk(TCP, GUEST, SERVER, 40000, 22, 0)),
      /^rule 0 of key guests .*"ssh only".* allows tcp port 22/,
    )
  })

  it('hot path survives a million packets with bounded memory', () => {
    const { server, guest } = link()
    // one header per direction, refilled per packet as the pump does
    const syn = pk(TCP, GUEST, SERVER, 0, 22, 0)
    const reply = pk(TCP, SERVER, GUEST, 22, 0, 0)
    const ping = pk(ICMP, SERVER, GUEST, 0, 0, ECHO_REQUEST)
    const before = process.memoryUsage().heapUsed
    let accepted = 0
    for (let i = 0; i < 1_000_000; i++) {
      const sport = 30000 + (i & 1023)
      syn.sport = sport
      reply.dport = sport
      ping.sport = i & 0xffff
      ping.dport = i & 0xffff
      if (guest.checkEgress(syn, i) === ACCEPT) accepted++
      if (server.checkIngress(syn, i) === ACCEPT) accepted++
      if (server.checkEgress(reply, i) === ACCEPT) accepted++
      if (guest.checkIngress(ping, i) === ACCEPT) accepted++
    }
    assert.equal(accepted, 4_000_000)
    const grown = process.memoryUsage().heapUsed - before
    assert.ok(grown < 32 * 1024 * 1024, `heap grew ${grown} bytes`)
  })
})
