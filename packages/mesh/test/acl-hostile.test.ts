/**
 * The packet filter against a hostile member (issue 8 §5): conntrack floods and forged ICMP errors.
 * Packets are real bytes parsed by the header parser the pump uses; the conntrack is one shared
 * table, as the node creates it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { echoPacket, ipPacket, tcpPacket, udpPacket } from '@meshlan/testkit'
import { HEADER_OK, PacketHeader } from '@meshlan/wire'
import {
  ACCEPT,
  type CompiledAcl,
  compileAcl,
  createConntrack,
  createPacketFilter,
  DEFAULT_CONNTRACK_PEER_CAPACITY,
  DROP_ACL,
  DROP_ICMP_UNRELATED,
  parseAcl,
  parseIpv4,
  VERDICT_NAMES,
  VERDICT_REASONS,
} from '../src/acl/index.ts'

const SERVER = parseIpv4('10.144.0.1') as number
const ATTACKER = parseIpv4('10.144.0.2') as number
const GUEST = parseIpv4('10.144.0.3') as number
const OTHER = parseIpv4('10.144.0.4') as number

const ip = ipPacket
const tcp = tcpPacket
const udp = udpPacket
const echo = echoPacket
/** An ICMP error (default: port unreachable) from `src` to `dst` about `about`. */
const icmpError = (src: number, dst: number, about: Uint8Array, type = 3, code = 3) =>
  ip(1, src, dst, [type, code, 0, 0, 0, 0, 0, 0, ...about.subarray(0, 28)])

function hdr(b: Uint8Array): PacketHeader {
  const h = new PacketHeader()
  assert.equal(h.parse(b, 0, b.length), HEADER_OK)
  return h
}

function acl(text: string, keyName: string): CompiledAcl {
  const r = parseAcl(text)
  assert.ok(r.ok, JSON.stringify(r))
  return compileAcl(r.acl, { nodeIp: () => undefined, tagIps: () => [], keyName })
}

/** The server's own key may start nothing: whatever it sends must be a reply to a tracked flow. */
const serverKey = acl('{"rules":[]}', 'servers')
const dnsAndIcmp = acl('{"rules":[{"to":["*"],"ports":["53/udp","icmp"]}]}', 'dns')
const sshOnly = acl('{"rules":[{"to":["*"],"ports":["22/tcp"]}]}', 'guests')

describe('conntrack shares: one member cannot evict another member’s flows', () => {
  it("a member flooding 65,536 UDP flows does not evict a guest's SSH reply state", () => {
    const conntrack = createConntrack() // the node's one table, default sizes
    const attacker = createPacketFilter({
      selfIp: SERVER,
      peerIp: ATTACKER,
      inbound: dnsAndIcmp,
      outbound: serverKey,
      conntrack,
    })
    const guest = createPacketFilter({
      selfIp: SERVER,
      peerIp: GUEST,
      inbound: sshOnly,
      outbound: serverKey,
      conntrack,
    })
    assert.equal(guest.checkIngress(hdr(tcp(GUEST, SERVER, 40000, 22)), 0), ACCEPT, 'the guest opens SSH')

    const flood = hdr(udp(ATTACKER, SERVER, 0, 53))
    for (let port = 0; port < 65536; port++) {
      flood.sport = port
      assert.equal(attacker.checkIngress(flood, 1), ACCEPT)
    }
    assert.equal(
      conntrack.entriesOf(ATTACKER),
      DEFAULT_CONNTRACK_PEER_CAPACITY,
      'the flooder holds its share, no more',
    )
    assert.equal(conntrack.entriesOf(GUEST), 1)

    // the server's SSH reply: its own key allows nothing, so only the tracked flow lets it out
    assert.equal(guest.checkEgress(hdr(tcp(SERVER, GUEST, 22, 40000)), 2), ACCEPT)
    // and a reply on a flow that was never opened is still refused
    assert.equal(guest.checkEgress(hdr(tcp(SERVER, GUEST, 22, 40001)), 2), DROP_ACL)
    // the flooder's newest flows are the ones it kept
    assert.equal(attacker.checkEgress(hdr(udp(SERVER, ATTACKER, 53, 65535)), 2), ACCEPT)
    assert.equal(attacker.checkEgress(hdr(udp(SERVER, ATTACKER, 53, 0)), 2), DROP_ACL)
  })
})

describe('ICMP errors pass only for tracked flows', () => {
  function setup() {
    const conntrack = createConntrack({ capacity: 256 })
    const peer = createPacketFilter({
      selfIp: SERVER,
      peerIp: ATTACKER,
      inbound: dnsAndIcmp, // an `icmp` rule: before, it admitted every ICMP error
      outbound: acl('{"rules":[{"to":["*"],"ports":["*"]}]}', 'admin'),
      conntrack,
    })
    const other = createPacketFilter({
      selfIp: SERVER,
      peerIp: OTHER,
      inbound: sshOnly,
      outbound: serverKey,
      conntrack,
    })
    return { peer, other }
  }

  it('an error embedding an untracked flow is dropped with a reason, despite the icmp rule', () => {
    const { peer } = setup()
    const forged = hdr(icmpError(ATTACKER, SERVER, tcp(SERVER, ATTACKER, 50000, 443)))
    assert.equal(forged.icmpError, true)
    const v = peer.checkIngress(forged, 0)
    assert.equal(v, DROP_ICMP_UNRELATED)
    assert.equal(VERDICT_NAMES[v], 'DROP_ICMP_UNRELATED')
    assert.match(VERDICT_REASONS[v], /ICMP error about no tracked flow/)
    assert.equal(peer.ingressCounters[DROP_ICMP_UNRELATED], 1)
    // every error type, not just unreachable
    for (const type of [4, 5, 11, 12]) {
      assert.equal(
        peer.checkIngress(hdr(icmpError(ATTACKER, SERVER, udp(SERVER, ATTACKER, 1, 2), type, 0)), 0),
        DROP_ICMP_UNRELATED,
      )
    }
  })

  it('an error embedding a flow we opened to the peer passes (ingress)', () => {
    const { peer } = setup()
    assert.equal(peer.checkEgress(hdr(udp(SERVER, ATTACKER, 5000, 9999)), 0), ACCEPT)
    assert.equal(
      peer.checkIngress(hdr(icmpError(ATTACKER, SERVER, udp(SERVER, ATTACKER, 5000, 9999))), 1),
      ACCEPT,
    )
    // fragmentation needed, about our TCP flow
    assert.equal(peer.checkEgress(hdr(tcp(SERVER, ATTACKER, 50000, 443)), 0), ACCEPT)
    assert.equal(
      peer.checkIngress(hdr(icmpError(ATTACKER, SERVER, tcp(SERVER, ATTACKER, 50000, 443), 3, 4)), 1),
      ACCEPT,
    )
    // about our ping
    assert.equal(peer.checkEgress(hdr(echo(SERVER, ATTACKER, 8, 77)), 0), ACCEPT)
    assert.equal(
      peer.checkIngress(hdr(icmpError(ATTACKER, SERVER, echo(SERVER, ATTACKER, 8, 77), 11, 0)), 1),
      ACCEPT,
    )
  })

  it('our own error about a flow the peer opened passes (egress); one about nothing is dropped', () => {
    const { peer } = setup()
    assert.equal(peer.checkIngress(hdr(udp(ATTACKER, SERVER, 6000, 53)), 0), ACCEPT)
    assert.equal(
      peer.checkEgress(hdr(icmpError(SERVER, ATTACKER, udp(ATTACKER, SERVER, 6000, 53))), 1),
      ACCEPT,
    )
    assert.equal(
      peer.checkEgress(hdr(icmpError(SERVER, ATTACKER, udp(ATTACKER, SERVER, 6001, 53))), 1),
      DROP_ICMP_UNRELATED,
    )
    assert.equal(peer.egressCounters[DROP_ICMP_UNRELATED], 1)
  })

  it("an error about another peer's flow, or about a packet we did not send, is dropped", () => {
    const { peer, other } = setup()
    assert.equal(other.checkIngress(hdr(tcp(OTHER, SERVER, 40000, 22)), 0), ACCEPT, 'OTHER opens SSH to us')
    // the attacker quotes the OTHER↔SERVER flow to cut it
    const aboutOther = hdr(icmpError(ATTACKER, SERVER, tcp(SERVER, OTHER, 22, 40000)))
    assert.equal(peer.checkIngress(aboutOther, 1), DROP_ICMP_UNRELATED)
    // a tracked flow, but the quoted packet's source is not us: no packet of ours to complain about
    assert.equal(peer.checkEgress(hdr(udp(SERVER, ATTACKER, 5000, 9999)), 0), ACCEPT)
    const notOurs = hdr(icmpError(ATTACKER, SERVER, udp(ATTACKER, SERVER, 9999, 5000)))
    assert.equal(peer.checkIngress(notOurs, 1), DROP_ICMP_UNRELATED)
  })

  it('echo request and reply still follow the rules and the state', () => {
    const { peer } = setup()
    assert.equal(
      peer.checkIngress(hdr(echo(ATTACKER, SERVER, 8, 5)), 0),
      ACCEPT,
      'the icmp rule allows a ping',
    )
    assert.equal(peer.checkEgress(hdr(echo(SERVER, ATTACKER, 0, 5)), 0), ACCEPT)
    const guestSide = createPacketFilter({
      selfIp: SERVER,
      peerIp: GUEST,
      inbound: sshOnly,
      outbound: serverKey,
      conntrack: createConntrack({ capacity: 16 }),
    })
    assert.equal(guestSide.checkIngress(hdr(echo(GUEST, SERVER, 8, 5)), 0), DROP_ACL)
    assert.equal(guestSide.checkIngress(hdr(echo(GUEST, SERVER, 0, 5)), 0), DROP_ACL, 'an unsolicited reply')
  })
})
