/**
 * What an exit client keeps off the tunnel: every IPv4 underlay address in members' records, the
 * bootstrap list and open connections (relay circuits included), never loopback or overlay
 * addresses; and the host routing derived from a peer table.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { emptyPeerTable } from '../src/peer-table.ts'
import { hostRouting, underlayBypass } from '../src/routing/settings.ts'

const notOverlay = (ip: string) => !ip.startsWith('10.144.')

describe('exit client bypass', () => {
  it('collects underlay IPv4 from records, bootstrap and connections; sorted and unique', () => {
    const nodes = [
      { record: { addrs: ['/ip4/192.0.2.10/tcp/7946', '/ip4/10.144.0.5/tcp/7946', '/ip6/::1/tcp/7946'] } },
      {
        record: { addrs: ['/ip4/198.51.100.7/tcp/7946/p2p/12D3KooWA/p2p-circuit', '/dns4/x.example/tcp/1'] },
      },
    ]
    const lp = {
      getConnections: () => [
        { remoteAddr: { toString: () => '/ip4/203.0.113.9/tcp/40000' } },
        { remoteAddr: { toString: () => '/ip4/127.0.0.1/tcp/7946' } },
      ],
    }
    assert.deepEqual(
      underlayBypass(nodes, ['/ip4/192.0.2.10/tcp/7946', '/ip4/192.0.2.99/tcp/1'], lp, notOverlay),
      ['192.0.2.10', '192.0.2.99', '198.51.100.7', '203.0.113.9'],
    )
    assert.deepEqual(underlayBypass([], undefined, null, notOverlay), [])
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
