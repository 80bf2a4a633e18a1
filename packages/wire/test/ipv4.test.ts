import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  checkIpv4,
  cidrContains,
  IPV4_BAD_IHL,
  IPV4_BAD_TOTAL_LENGTH,
  IPV4_NOT_IPV4,
  IPV4_OK,
  IPV4_REASONS,
  IPV4_SHORT,
  icmpType,
  ipToUint32,
  ipv4Dst,
  ipv4HeaderLen,
  ipv4Proto,
  ipv4Src,
  ipv4TotalLen,
  isFragmentNonFirst,
  l4DstPort,
  l4SrcPort,
  parseCidr,
  TCP_ACK,
  TCP_SYN,
  tcpFlags,
  uint32ToIp,
} from '../src/index.ts'
import { packet } from './fixtures.ts'

// TCP: sport 51000 (0xc738), dport 22, seq/ack, data offset 5, flags SYN|ACK
const tcp = [0xc7, 0x38, 0x00, 0x16, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0]
// UDP: sport 53, dport 40000 (0x9c40), len 12, csum 0, 4 bytes data
const udp = [0x00, 0x35, 0x9c, 0x40, 0x00, 0x0c, 0, 0, 1, 2, 3, 4]
// ICMP echo request
const icmp = [8, 0, 0, 0, 0, 1, 0, 1]

describe('ipv4 header parsing', () => {
  it('reads a TCP packet', () => {
    const p = packet({ proto: 6, src: '10.144.3.4', dst: '10.144.200.1', l4: tcp })
    assert.equal(checkIpv4(p, 0, p.length), IPV4_OK)
    assert.equal(ipv4HeaderLen(p, 0), 20)
    assert.equal(ipv4TotalLen(p, 0), 40)
    assert.equal(ipv4Proto(p, 0), 6)
    assert.equal(uint32ToIp(ipv4Src(p, 0)), '10.144.3.4')
    assert.equal(uint32ToIp(ipv4Dst(p, 0)), '10.144.200.1')
    assert.equal(l4SrcPort(p, 0), 51000)
    assert.equal(l4DstPort(p, 0), 22)
    assert.equal(tcpFlags(p, 0), TCP_SYN | TCP_ACK)
    assert.equal(icmpType(p, 0), -1)
    assert.equal(isFragmentNonFirst(p, 0), false)
  })

  it('reads a UDP packet with options at an offset inside a slab', () => {
    const p = packet({ proto: 17, l4: udp, options: 8, dst: '255.255.255.255' })
    const slab = new Uint8Array(p.length + 100).fill(0xee)
    slab.set(p, 37)
    assert.equal(checkIpv4(slab, 37, p.length), IPV4_OK)
    assert.equal(ipv4HeaderLen(slab, 37), 28)
    assert.equal(l4SrcPort(slab, 37), 53)
    assert.equal(l4DstPort(slab, 37), 40000)
    assert.equal(ipv4Dst(slab, 37), 0xffffffff)
    assert.equal(tcpFlags(slab, 37), 0)
  })

  it('reads an ICMP packet', () => {
    const p = packet({ proto: 1, l4: icmp })
    assert.equal(checkIpv4(p, 0, p.length), IPV4_OK)
    assert.equal(icmpType(p, 0), 8)
    assert.equal(l4SrcPort(p, 0), 0)
    assert.equal(l4DstPort(p, 0), 0)
  })

  it('gives no ports for non-first fragments or truncated L4 headers', () => {
    const frag = packet({ proto: 6, l4: tcp, fragOffset: 185 })
    assert.equal(isFragmentNonFirst(frag, 0), true)
    assert.equal(l4SrcPort(frag, 0), 0)
    assert.equal(tcpFlags(frag, 0), 0)
    const short = packet({ proto: 17, l4: [0, 53, 0x9c] })
    assert.equal(checkIpv4(short, 0, short.length), IPV4_OK)
    assert.equal(l4SrcPort(short, 0), 0)
    const shortTcp = packet({ proto: 6, l4: tcp.slice(0, 13) })
    assert.equal(l4DstPort(shortTcp, 0), 22)
    assert.equal(tcpFlags(shortTcp, 0), 0)
  })

  it('returns reason codes for bad headers', () => {
    const p = packet({ proto: 6, l4: tcp })
    assert.equal(checkIpv4(p, 0, 19), IPV4_SHORT)
    assert.equal(checkIpv4(p, 30, 20), IPV4_SHORT) // window beyond buf
    assert.equal(checkIpv4(p, -1, 20), IPV4_SHORT)
    const v6 = p.slice()
    v6[0] = 0x60
    assert.equal(checkIpv4(v6, 0, v6.length), IPV4_NOT_IPV4)
    const ihl = p.slice()
    ihl[0] = 0x44
    assert.equal(checkIpv4(ihl, 0, ihl.length), IPV4_BAD_IHL)
    ihl[0] = 0x4f // 60-byte header > 40-byte packet
    assert.equal(checkIpv4(ihl, 0, ihl.length), IPV4_BAD_IHL)
    const tl = p.slice()
    tl[3] = 41
    assert.equal(checkIpv4(tl, 0, tl.length), IPV4_BAD_TOTAL_LENGTH)
    tl[3] = 19
    assert.equal(checkIpv4(tl, 0, tl.length), IPV4_BAD_TOTAL_LENGTH)
    assert.equal(checkIpv4(p, 0, p.length + 0), IPV4_OK)
    assert.deepEqual(IPV4_REASONS.slice(0, 5), ['OK', 'SHORT', 'NOT_IPV4', 'BAD_IHL', 'BAD_TOTAL_LENGTH'])
  })

  it('allows link padding after the total length', () => {
    const p = packet({ proto: 17, l4: udp })
    const padded = new Uint8Array(p.length + 6)
    padded.set(p)
    assert.equal(checkIpv4(padded, 0, padded.length), IPV4_OK)
  })
})

describe('addresses and CIDRs', () => {
  it('parses and formats dotted quads', () => {
    assert.equal(ipToUint32('10.144.0.1'), 0x0a900001)
    assert.equal(ipToUint32('255.255.255.255'), 0xffffffff)
    assert.equal(ipToUint32('0.0.0.0'), 0)
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '01.2.3.4',
      '1..2.3',
      '1.2.3.4 ',
      'a.b.c.d',
      '1.2.3.-4',
    ]) {
      assert.equal(ipToUint32(bad), -1, bad)
    }
    assert.equal(uint32ToIp(0x0a900001), '10.144.0.1')
    assert.equal(uint32ToIp(0xffffffff), '255.255.255.255')
  })

  it('parses CIDRs and tests containment', () => {
    const c = parseCidr('10.144.0.0/16')
    assert.ok(c.ok)
    assert.equal(c.base, 0x0a900000)
    assert.equal(c.prefix, 16)
    assert.equal(c.mask, 0xffff0000)
    assert.ok(cidrContains(c, ipToUint32('10.144.255.1')))
    assert.ok(!cidrContains(c, ipToUint32('10.145.0.1')))
    const host = parseCidr('10.144.3.7/16')
    assert.ok(host.ok && host.base === 0x0a900000 && host.ip === 0x0a900307)
    const all = parseCidr('0.0.0.0/0')
    assert.ok(all.ok && all.mask === 0 && cidrContains(all, 0xffffffff))
    const one = parseCidr('1.2.3.4/32')
    assert.ok(one.ok && one.mask === 0xffffffff && cidrContains(one, ipToUint32('1.2.3.4')))
    for (const bad of [
      '10.144.0.0',
      '10.144.0.0/33',
      '10.144.0.0/',
      '10.144.0.0/08',
      'x/16',
      '10.144.0.0/1a',
    ]) {
      const r = parseCidr(bad)
      assert.equal(r.ok, false, bad)
      assert.ok(!r.ok && r.reason.length > 0)
    }
  })
})
