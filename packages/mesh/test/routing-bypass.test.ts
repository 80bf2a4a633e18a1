/**
 * What an exit client keeps off the tunnel: the addresses of open connections (relay circuits
 * included), those we are dialling, and the bootstrap list — never an address a member only lists
 * in its record (issue 9 review: a member would choose what skips the exit node), never loopback or
 * overlay addresses; and the host routing derived from a peer table.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { emptyPeerTable } from '../src/peer-table.ts'
import { DIAL_BYPASS_HOLD_MS, DialBypass, dialTarget, MAX_DIAL_BYPASS } from '../src/routing/dial-bypass.ts'
import { hostRouting, underlayBypass } from '../src/routing/settings.ts'

const notOverlay = (ip: string) => !ip.startsWith('10.144.')

describe('exit client bypass', () => {
  it('collects underlay IPv4 from connections, dials and bootstrap; sorted and unique', () => {
    const lp = {
      getConnections: () => [
        { remoteAddr: { toString: () => '/ip4/203.0.113.9/tcp/40000' } },
        {
          remoteAddr: {
            toString: () => '/ip4/198.51.100.7/tcp/7946/p2p/12D3KooWA/p2p-circuit/p2p/12D3KooWB',
          },
        },
        { remoteAddr: { toString: () => '/ip4/127.0.0.1/tcp/7946' } },
        { remoteAddr: { toString: () => '/ip4/10.144.0.5/tcp/7946' } },
      ],
    }
    assert.deepEqual(
      underlayBypass(
        ['192.0.2.50', '10.144.0.9'],
        ['/ip4/192.0.2.10/tcp/7946', '/ip4/192.0.2.99/tcp/1'],
        lp,
        notOverlay,
      ),
      ['192.0.2.10', '192.0.2.50', '192.0.2.99', '198.51.100.7', '203.0.113.9'],
    )
    assert.deepEqual(underlayBypass([], undefined, null, notOverlay), [])
  })

  it('a dialled address is held for DIAL_BYPASS_HOLD_MS, then forgotten; the table is bounded', () => {
    const d = new DialBypass()
    assert.equal(d.hold('192.0.2.1', 1000), true)
    assert.equal(d.hold('192.0.2.1', 2000), false, 'already held: no second route')
    assert.deepEqual(d.list(2000 + DIAL_BYPASS_HOLD_MS - 1), ['192.0.2.1'])
    assert.deepEqual(d.list(2000 + DIAL_BYPASS_HOLD_MS), [])
    for (let i = 0; i < MAX_DIAL_BYPASS + 10; i++) d.hold(`198.18.${i >> 8}.${i & 255}`, 5000)
    const held = d.list(5000)
    assert.equal(held.length, MAX_DIAL_BYPASS)
    assert.equal(held.includes('198.18.0.0'), false, 'the oldest hold was evicted')
  })

  it('dialTarget: the leading IPv4 of a multiaddr or an IP; nothing for DNS or IPv6', () => {
    assert.equal(dialTarget('/ip4/192.0.2.7/tcp/7946/p2p/12D3KooWA'), '192.0.2.7')
    assert.equal(dialTarget('/ip4/198.51.100.7/tcp/1/p2p/R/p2p-circuit/p2p/X'), '198.51.100.7')
    assert.equal(dialTarget('203.0.113.1'), '203.0.113.1')
    assert.equal(dialTarget('/dns4/x.example/tcp/1'), null)
    assert.equal(dialTarget('/ip6/::1/tcp/1'), null)
    assert.equal(dialTarget('not an address'), null)
  })

  it('host routing: no exit node, no bypass; served routes exclude the exit approval', () => {
    const t = emptyPeerTable()
    t.self = {
      ip: 1,
      counter: 0,
      name: 'r',
      bound: true,
      routes: { advertised: ['192.168.1.0/24'], approved: ['192.168.1.0/24', 'exit'] },
      exitNode: true,
    }
    const r = hostRouting(t, ['192.0.2.10'])
    assert.deepEqual(r, {
      served: ['192.168.1.0/24'],
      exitServed: true,
      accepted: [],
      exit: null,
      bypass: [],
    })
  })
})
