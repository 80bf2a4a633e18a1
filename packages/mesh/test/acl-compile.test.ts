import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PacketHeader } from '@meshlan/wire'
import type { AclContext, CompiledAcl } from '../src/acl/index.ts'
import { allowAllAcl, compileAcl, denyAllAcl, parseAcl, parseIpv4 } from '../src/acl/index.ts'

const ip = (s: string): number => {
  const v = parseIpv4(s)
  assert.ok(v !== undefined, s)
  return v
}

const nodes: Record<string, string> = { server: '10.144.0.1', web1: '10.144.0.11', web2: '10.144.0.12' }
const ctx: AclContext = {
  nodeIp: (name) => (nodes[name] === undefined ? undefined : ip(nodes[name])),
  tagIps: (tag) => (tag === 'web' ? [ip('10.144.0.11'), ip('10.144.0.12')] : []),
  keyName: 'guests',
}

function compile(text: string, c: AclContext = ctx): CompiledAcl {
  const r = parseAcl(text)
  assert.ok(r.ok, JSON.stringify(r))
  return compileAcl(r.acl, c)
}

const TCP = 6
const UDP = 17
const ICMP = 1

/** A header holding just what an ACL reads (ACLs are stateless; the filter tests parse real bytes). */
function pkt(dst: number, proto: number, dport: number, icmpType = -1): PacketHeader {
  const h = new PacketHeader()
  h.dst = dst
  h.proto = proto
  h.dport = dport
  h.icmpType = icmpType
  return h
}

describe('compileAcl', () => {
  it('* allows every protocol and port everywhere', () => {
    const acl = compile('{"rules":[{"to":["*"]}]}')
    assert.equal(acl.allowsAll, true)
    for (const proto of [TCP, UDP, ICMP, 47]) {
      assert.equal(acl.allows(pkt(ip('10.144.0.1'), proto, 80)), true)
      assert.equal(acl.allows(pkt(ip('192.168.1.1'), proto, 0, 8)), true)
    }
    assert.equal(acl.reachesAnything(ip('1.2.3.4')), true)
    assert.equal(compileAcl(allowAllAcl(), ctx).allowsAll, true)
  })

  it('no rules deny everything', () => {
    const acl = compileAcl(denyAllAcl(), ctx)
    assert.equal(acl.allows(pkt(ip('10.144.0.1'), TCP, 22)), false)
    assert.equal(acl.reachesAnything(ip('10.144.0.1')), false)
    assert.match(
      acl.explain(pkt(ip('10.144.0.1'), TCP, 22)),
      /no rule of key guests allows tcp port 22 to 10\.144\.0\.1/,
    )
  })

  it('node: with a port allows only that port and protocol on that node', () => {
    const acl = compile('{"rules":[{"to":["node:server"],"ports":["22/tcp"]}]}')
    assert.equal(acl.allowsAll, false)
    const server = ip('10.144.0.1')
    assert.equal(acl.allows(pkt(server, TCP, 22)), true)
    assert.equal(acl.allows(pkt(server, TCP, 80)), false)
    assert.equal(acl.allows(pkt(server, UDP, 22)), false)
    assert.equal(acl.allows(pkt(server, ICMP, 0, 8)), false)
    assert.equal(acl.allows(pkt(ip('10.144.0.2'), TCP, 22)), false)
    assert.equal(acl.reachesAnything(server), true)
    assert.equal(acl.reachesAnything(ip('10.144.0.2')), false)
    assert.deepEqual(acl.nodes, ['server'])
  })

  it('an unknown node matches nothing until recompiled', () => {
    const text = '{"rules":[{"to":["node:later"],"ports":["*"]}]}'
    const acl = compile(text)
    assert.deepEqual(acl.unresolved, ['node:later'])
    assert.equal(acl.reachesAnything(ip('10.144.0.9')), false)
    assert.match(acl.explain(pkt(ip('10.144.0.9'), ICMP, 0)), /not known yet, matching nothing: node:later/)
    nodes.later = '10.144.0.9'
    try {
      const again = compile(text)
      assert.equal(again.allows(pkt(ip('10.144.0.9'), UDP, 53)), true)
      assert.deepEqual(again.unresolved, [])
    } finally {
      delete nodes.later
    }
  })

  it('tag: covers every member', () => {
    const acl = compile('{"rules":[{"to":["tag:web"],"ports":["80/tcp","443/any"]}]}')
    for (const h of ['10.144.0.11', '10.144.0.12']) {
      assert.equal(acl.allows(pkt(ip(h), TCP, 80)), true)
      assert.equal(acl.allows(pkt(ip(h), TCP, 443)), true)
      assert.equal(acl.allows(pkt(ip(h), UDP, 443)), true)
      assert.equal(acl.allows(pkt(ip(h), UDP, 80)), false)
    }
    assert.equal(acl.allows(pkt(ip('10.144.0.1'), TCP, 80)), false)
    assert.deepEqual(acl.tags, ['web'])
    assert.deepEqual(compile('{"rules":[{"to":["tag:none"]}]}').unresolved, ['tag:none'])
  })

  it('CIDR and single addresses', () => {
    const acl = compile('{"rules":[{"to":["10.144.8.0/22","192.168.1.7"],"ports":["*"]}]}')
    assert.equal(acl.allows(pkt(ip('10.144.8.0'), TCP, 1)), true)
    assert.equal(acl.allows(pkt(ip('10.144.11.255'), UDP, 1)), true)
    assert.equal(acl.allows(pkt(ip('10.144.12.0'), TCP, 1)), false)
    assert.equal(acl.allows(pkt(ip('10.144.7.255'), TCP, 1)), false)
    assert.equal(acl.allows(pkt(ip('192.168.1.7'), 47, 0)), true)
    assert.equal(acl.allows(pkt(ip('192.168.1.8'), 47, 0)), false)
    const all = compile('{"rules":[{"to":["0.0.0.0/0"]}]}')
    assert.equal(all.allowsAll, true)
    assert.equal(all.allows(pkt(ip('255.255.255.255'), TCP, 65535)), true)
  })

  it('port ranges are inclusive', () => {
    const acl = compile('{"rules":[{"to":["*"],"ports":["60000-61000/udp","8000-8080/tcp"]}]}')
    const h = ip('10.144.0.1')
    assert.equal(acl.allows(pkt(h, UDP, 59999)), false)
    assert.equal(acl.allows(pkt(h, UDP, 60000)), true)
    assert.equal(acl.allows(pkt(h, UDP, 61000)), true)
    assert.equal(acl.allows(pkt(h, UDP, 61001)), false)
    assert.equal(acl.allows(pkt(h, TCP, 60500)), false)
    assert.equal(acl.allows(pkt(h, TCP, 8080)), true)
    assert.equal(acl.allows(pkt(h, UDP, 8080)), false)
  })

  it('icmp and icmp/N', () => {
    const acl = compile(
      '{"rules":[{"to":["node:server"],"ports":["icmp"]},{"to":["node:web1"],"ports":["icmp/8"]}]}',
    )
    assert.equal(acl.allows(pkt(ip('10.144.0.1'), ICMP, 0, 8)), true)
    assert.equal(acl.allows(pkt(ip('10.144.0.1'), ICMP, 0, 3)), true)
    assert.equal(acl.allows(pkt(ip('10.144.0.1'), ICMP, 0)), true)
    assert.equal(acl.allows(pkt(ip('10.144.0.1'), ICMP, 0, -1)), true)
    assert.equal(acl.allows(pkt(ip('10.144.0.1'), TCP, 0)), false)
    assert.equal(acl.allows(pkt(ip('10.144.0.11'), ICMP, 0, 8)), true)
    assert.equal(acl.allows(pkt(ip('10.144.0.11'), ICMP, 0, 0)), false)
    assert.equal(acl.allows(pkt(ip('10.144.0.11'), ICMP, 0)), false)
  })

  it('allowsIcmpEcho / explainIcmpEcho answer for a ping without a packet', () => {
    const acl = compile(
      '{"rules":[{"to":["node:server"],"ports":["icmp/8"]},{"to":["node:web1"],"ports":["22/tcp"]}]}',
    )
    assert.equal(acl.allowsIcmpEcho(ip('10.144.0.1')), true)
    assert.equal(acl.allowsIcmpEcho(ip('10.144.0.11')), false)
    assert.match(
      acl.explainIcmpEcho(ip('10.144.0.1')),
      /^rule 0 of key guests .* allows icmp type 8 to 10\.144\.0\.1$/,
    )
    assert.equal(
      acl.explainIcmpEcho(ip('10.144.0.11')),
      'no rule of key guests allows icmp type 8 to 10.144.0.11',
    )
  })

  it('a tcp/udp rule never matches other protocols', () => {
    const acl = compile('{"rules":[{"to":["*"],"ports":["0-65535/any"]}]}')
    assert.equal(acl.allows(pkt(ip('10.0.0.1'), TCP, 0)), true)
    assert.equal(acl.allows(pkt(ip('10.0.0.1'), ICMP, 0, 8)), false)
    assert.equal(acl.allows(pkt(ip('10.0.0.1'), 47, 0)), false)
    assert.equal(acl.reachesAnything(ip('10.0.0.1')), true)
  })

  it('explain names the first matching rule or says none', () => {
    const acl = compile(
      '{"rules":[{"to":["tag:web"],"ports":["80/tcp"]},{"to":["node:server"],"ports":["22/tcp"],"comment":"ssh"}]}',
    )
    assert.equal(
      acl.explain(pkt(ip('10.144.0.1'), TCP, 22)),
      'rule 1 of key guests (to node:server, ports 22/tcp, "ssh") allows tcp port 22 to 10.144.0.1',
    )
    assert.equal(acl.match(pkt(ip('10.144.0.1'), TCP, 22)), 1)
    assert.equal(acl.match(pkt(ip('10.144.0.11'), TCP, 80)), 0)
    assert.equal(
      acl.explain(pkt(ip('10.144.3.7'), ICMP, 0)),
      'no rule of key guests allows icmp to 10.144.3.7',
    )
    assert.equal(
      acl.explain(pkt(ip('10.144.0.1'), UDP, 53)),
      'no rule of key guests allows udp port 53 to 10.144.0.1',
    )
  })

  it('ignores addresses the context gets wrong', () => {
    const acl = compileAcl(
      {
        rules: [
          {
            to: [
              { kind: 'node', name: 'x', text: 'node:x' },
              { kind: 'tag', name: 't', text: 'tag:t' },
            ],
            ports: [],
          },
        ],
      },
      { nodeIp: () => Number.NaN, tagIps: () => [1.5, -1e12, 2 ** 33] },
    )
    assert.equal(acl.entryCount, 0)
    assert.equal(acl.keyName, 'unnamed')
  })
})

describe('compileAcl: the internet target (issue 9)', () => {
  const ip = (s: string) => parseIpv4(s) as number
  const overlay = { base: ip('10.144.0.0'), prefix: 16 }
  const routes = [{ base: ip('192.168.1.0'), prefix: 24 }]
  const compile = (text: string, withOverlay = true) => {
    const p = parseAcl(text)
    assert.ok(p.ok)
    return compileAcl(p.acl, {
      nodeIp: () => undefined,
      tagIps: () => [],
      ...(withOverlay ? { overlay, routes } : {}),
    })
  }
  it('matches internet addresses only: not the overlay, not an approved route', () => {
    const c = compile('{"rules":[{"to":["internet"]}]}')
    assert.equal(c.reachesAnything(ip('8.8.8.8')), true)
    assert.equal(c.reachesAnything(ip('10.144.0.5')), false)
    assert.equal(c.reachesAnything(ip('192.168.1.7')), false)
    assert.equal(c.reachesAnything(ip('192.168.2.7')), true)
    assert.equal(c.reachesInternet, true)
    assert.equal(c.reachesPrefix(ip('192.168.1.0'), 24), false)
  })
  it('without the overlay subnet it resolves to nothing (never reaches members by accident)', () => {
    const c = compile('{"rules":[{"to":["internet"]}]}', false)
    assert.deepEqual(c.unresolved, ['internet'])
    assert.equal(c.reachesAnything(ip('8.8.8.8')), false)
    assert.equal(c.reachesInternet, false)
  })
  it('reachesPrefix sees overlapping CIDRs; overlay-only keys do not reach the internet', () => {
    const c = compile('{"rules":[{"to":["192.168.1.128/25","10.144.0.1"]}]}')
    assert.equal(c.reachesPrefix(ip('192.168.1.0'), 24), true)
    assert.equal(c.reachesPrefix(ip('192.168.2.0'), 24), false)
    assert.equal(c.reachesInternet, false)
    assert.equal(compile('{"rules":[{"to":["*"]}]}').reachesInternet, true)
  })
})
