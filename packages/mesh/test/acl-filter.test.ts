import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
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
  VERDICT_NAMES,
} from '../src/acl/index.ts'

const TCP = 6
const ICMP = 1
const ECHO_REQUEST = 8
const ECHO_REPLY = 0

const SERVER = parseIpv4('10.144.0.1')!
const GUEST = parseIpv4('10.144.0.50')!
const GUEST2 = parseIpv4('10.144.0.51')!

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
  const out = from.checkEgress(src, dst, proto, sport, dport, icmpType, now)
  const inn = to.checkIngress(src, dst, proto, sport, dport, icmpType, now)
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
    assert.equal(server.checkIngress(GUEST, SERVER, ICMP, 9, 0, ECHO_REQUEST, 1001), DROP_ACL)
    assert.equal(guest.checkEgress(GUEST, SERVER, ICMP, 9, 0, ECHO_REQUEST, 1001), DROP_ACL)
  })

  it('guest opens TCP 22 and its replies pass; port 80 does not', () => {
    const { server, guest } = link()
    assert.deepEqual(send(guest, server, TCP, 40000, 22, 0, 1000), [ACCEPT, ACCEPT])
    assert.deepEqual(send(server, guest, TCP, 22, 40000, 0, 1001), [ACCEPT, ACCEPT])
    assert.deepEqual(send(guest, server, TCP, 40000, 22, 0, 1002), [ACCEPT, ACCEPT])
    assert.deepEqual(send(guest, server, TCP, 40001, 80, 0, 1003), [DROP_ACL, DROP_ACL])
    assert.equal(server.checkIngress(GUEST, SERVER, 17, 40000, 22, 0, 1003), DROP_ACL, 'udp 22 is not tcp 22')
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
    assert.equal(server.checkEgress(SERVER, GUEST, ICMP, 5, 0, ECHO_REQUEST, 0), ACCEPT)
    assert.equal(server.checkIngress(GUEST, SERVER, ICMP, 5, 0, ECHO_REPLY, 99), ACCEPT)
    assert.equal(server.checkIngress(GUEST, SERVER, ICMP, 5, 0, ECHO_REPLY, 300), DROP_ACL)
  })

  it('drops spoofed sources and counts every verdict', () => {
    const { server } = link()
    assert.equal(server.checkIngress(GUEST2, SERVER, TCP, 1, 22, 0, 0), DROP_SPOOF)
    server.checkIngress(GUEST, SERVER, TCP, 1, 22, 0, 0)
    server.checkIngress(GUEST, SERVER, TCP, 1, 80, 0, 0)
    server.checkIngress(GUEST, SERVER, TCP, 2, 80, 0, 0)
    assert.equal(server.ingressCounters.length, VERDICT_COUNT)
    assert.equal(VERDICT_NAMES.length, VERDICT_COUNT)
    assert.equal(VERDICT_NAMES[ACCEPT], 'ACCEPT')
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
    assert.equal(lax.checkIngress(GUEST2, SERVER, TCP, 1, 22, 0, 0), ACCEPT)
  })

  it('replace() takes effect from the next packet; null means not a member', () => {
    const { server } = link()
    assert.equal(server.checkIngress(GUEST, SERVER, TCP, 40000, 22, 0, 0), ACCEPT)
    const nothing = compile('{"rules":[]}', 'guests')
    server.replace(nothing, admin)
    assert.equal(
      server.checkIngress(GUEST, SERVER, TCP, 40000, 22, 0, 1),
      DROP_ACL,
      'the guest-initiated flow is cut',
    )
    assert.equal(server.checkEgress(SERVER, GUEST, TCP, 22, 40000, 0, 1), ACCEPT)
    server.replace(compile('{"rules":[{"to":["node:server"],"ports":["80/tcp"]}]}', 'guests'), admin)
    assert.equal(server.checkIngress(GUEST, SERVER, TCP, 40001, 80, 0, 2), ACCEPT)
    server.replace(null, admin)
    assert.equal(server.checkIngress(GUEST, SERVER, TCP, 40001, 80, 0, 3), DROP_NOT_MEMBER)
    server.replace(guests, null)
    assert.equal(server.checkEgress(SERVER, GUEST, TCP, 1, 2, 0, 3), DROP_NOT_MEMBER)
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
    assert.equal(guests.explain(SERVER, ICMP, 0), 'no rule of key guests allows icmp to 10.144.0.1')
    assert.match(guests.explain(SERVER, TCP, 22), /^rule 0 of key guests .*"ssh only".* allows tcp port 22/)
  })

  it('hot path survives a million packets with bounded memory', () => {
    const { server, guest } = link()
    const before = process.memoryUsage().heapUsed
    let accepted = 0
    for (let i = 0; i < 1_000_000; i++) {
      const sport = 30000 + (i & 1023)
      if (guest.checkEgress(GUEST, SERVER, TCP, sport, 22, 0, i) === ACCEPT) accepted++
      if (server.checkIngress(GUEST, SERVER, TCP, sport, 22, 0, i) === ACCEPT) accepted++
      if (server.checkEgress(SERVER, GUEST, TCP, 22, sport, 0, i) === ACCEPT) accepted++
      if (guest.checkIngress(SERVER, GUEST, ICMP, i & 0xffff, 0, ECHO_REQUEST, i) === ACCEPT) accepted++
    }
    assert.equal(accepted, 4_000_000)
    const grown = process.memoryUsage().heapUsed - before
    assert.ok(grown < 32 * 1024 * 1024, `heap grew ${grown} bytes`)
  })
})
