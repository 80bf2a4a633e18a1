/**
 * The pump says when a peer's tunnel starts sending after quiet (`onActive`): the reachability
 * watchdog sleeps on that instead of a 1 s timer (issue 14, idle CPU). Real libp2p streams
 * (`streamPair`), a memory device, the wall clock mocked to step past the quiet window.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { streamPair } from '@libp2p/utils'
import { allowAllAcl, compileAcl, createConntrack, createPacketFilter, parseIpv4 } from '../src/acl/index.ts'
import { TUNNEL_ACTIVE_WINDOW_MS } from '../src/constants.ts'
import { MemoryDevice } from '../src/memory-device.ts'
import { createPump } from '../src/pump.ts'
import { ipv4Packet } from './helpers.ts'

const SELF = '10.144.0.1'
const PEERS = { p1: '10.144.0.2', p2: '10.144.0.3' }

describe('pump: onActive', () => {
  it('fires once when a tunnel starts, not for its next batches, again after quiet; per peer; unsubscribes', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
    const device = new MemoryDevice()
    const pump = createPump(
      {},
      {
        device,
        openStream: async () => ({ stream: (await streamPair())[0], path: 'direct' }),
      },
    )
    const all = compileAcl(allowAllAcl(), { nodeIp: () => undefined, tagIps: () => [] })
    const self = parseIpv4(SELF) as number
    pump.start()
    pump.setSelfIp(self)
    for (const [id, ip] of Object.entries(PEERS)) {
      const peer = parseIpv4(ip) as number
      const filter = createPacketFilter({
        selfIp: self,
        peerIp: peer,
        inbound: all,
        outbound: all,
        conntrack: createConntrack(),
      })
      pump.upsertPeer(id, peer, filter)
    }
    const fired: string[] = []
    const off = pump.onActive((peer) => fired.push(peer))
    const send = (to: string) => device.inject([ipv4Packet(SELF, to, 17, 5000, 53)])
    const streams = async (n: number) => {
      for (let i = 0; i < 200 && pump.linkStats().filter((l) => l.streamOpen).length < n; i++)
        await new Promise((r) => setTimeout(r, 5))
    }

    send(PEERS.p1)
    assert.deepEqual(fired, ['p1'], 'the first packet to a peer starts its tunnel, at once')
    await streams(1)
    // its stream attached while it was sending: said again, since only now is there a path to watch
    assert.deepEqual(fired, ['p1', 'p1'])
    for (let i = 0; i < 5; i++) {
      t.mock.timers.setTime(Date.now() + 500)
      send(PEERS.p1)
    }
    assert.deepEqual(fired, ['p1', 'p1'], 'batches 500 ms apart are one active tunnel')
    send(PEERS.p2)
    await streams(2)
    assert.deepEqual(fired, ['p1', 'p1', 'p2', 'p2'], 'each peer has its own')
    t.mock.timers.setTime(Date.now() + TUNNEL_ACTIVE_WINDOW_MS + 1)
    send(PEERS.p1)
    assert.deepEqual(fired.slice(4), ['p1'], 'a tunnel quiet for the window starts again')
    off()
    t.mock.timers.setTime(Date.now() + TUNNEL_ACTIVE_WINDOW_MS + 1)
    send(PEERS.p2)
    assert.deepEqual(fired.slice(4), ['p1'], 'no calls after unsubscribing')
    assert.ok(
      pump.activePeers(TUNNEL_ACTIVE_WINDOW_MS).includes('p2'),
      'activePeers agrees: p2 sent just now',
    )
    pump.stop()
  })
})
