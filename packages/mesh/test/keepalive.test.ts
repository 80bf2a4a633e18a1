/**
 * keepalive.ts's contract: what it reads of libp2p's connection and yamux's muxer. Each assertion
 * names the assumption it guards, so a libp2p or yamux upgrade that breaks one fails here instead
 * of leaving status without RTTs and every connected member "online" forever.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { KEEPALIVE_TIMEOUT_MS } from '../src/constants.ts'
import { keepaliveOf } from '../src/keepalive.ts'
import { createTransport, type MeshLibp2p } from '../src/transport.ts'
import { until } from './helpers.ts'

async function node(name: string): Promise<MeshLibp2p> {
  const lp = await createTransport({
    privateKey: await generateKeyPair('Ed25519'),
    networkId: 'keepalivetest',
    listen: [`/memory/keepalive-${name}`],
    underlay: memory(),
  })
  await lp.start()
  return lp
}

describe('keepalive adapter (libp2p 3.3.11, @libp2p/yamux 8)', () => {
  let a: MeshLibp2p
  let b: MeshLibp2p
  before(async () => {
    a = await node('a')
    b = await node('b')
  })
  after(async () => {
    await a?.stop()
    await b?.stop()
  })

  it('both ends of a connection read an RTT from the keepalive (Connection.muxer, yamux rtt, a ping at open)', async () => {
    const out = await a.dial(multiaddr(`/memory/keepalive-b/p2p/${b.peerId}`))
    const inbound = (): Connection | undefined => b.getConnections(peerIdFromString(a.peerId.toString()))[0]
    await until(
      () => (keepaliveOf(out)?.rttMs ?? -1) >= 0 && (keepaliveOf(inbound() as Connection)?.rttMs ?? -1) >= 0,
      5000,
      'an RTT at both ends',
    )
    assert.equal(keepaliveOf(out)?.answering, true)
    assert.equal(keepaliveOf(inbound() as Connection)?.answering, true)
  })

  it('a ping nobody answers keeps its start: overdue after KEEPALIVE_TIMEOUT_MS (yamux activePing.start)', async () => {
    // one end has a muxer, the other reads nothing: its first keepalive ping is never answered
    const [outbound] = multiaddrConnectionPair()
    const muxer = yamux({ enableKeepAlive: true, keepAliveInterval: 60_000 })().createStreamMuxer(outbound)
    const conn = { muxer } as unknown as Connection
    try {
      await new Promise((r) => setTimeout(r, 100)) // the first ping goes out once the task runs
      const now = Date.now()
      assert.deepEqual(keepaliveOf(conn, now), { rttMs: null, answering: true })
      assert.deepEqual(keepaliveOf(conn, now + KEEPALIVE_TIMEOUT_MS + 1000), {
        rttMs: null,
        answering: false,
      })
    } finally {
      muxer.abort(new Error('test over'))
    }
  })

  it('a muxer it cannot read says nothing (null), never "answering"', () => {
    assert.equal(keepaliveOf({} as Connection), null)
    assert.equal(keepaliveOf({ muxer: { rtt: 'x' } } as unknown as Connection), null)
  })

  it('pings after the first fall on a wall-clock grid: connections opened apart ping together (our yamux patch)', async () => {
    // one wake-up per interval for all of a node's connections instead of one per connection
    const INTERVAL = 400
    const sent: number[][] = [[], []]
    const muxers: Array<{ abort(e: Error): void }> = []
    const open = (k: number) => {
      const [o, i] = multiaddrConnectionPair()
      const factory = yamux({ enableKeepAlive: true, keepAliveInterval: INTERVAL })()
      const client = factory.createStreamMuxer(o) as unknown as { sendPing(id: number, flag?: number): void }
      const orig = client.sendPing.bind(client)
      client.sendPing = (id, flag) => {
        // a ping the client starts (flag SYN = 1), not its answers to the server's
        if (flag === undefined || flag === 1) sent[k].push(Date.now())
        orig(id, flag)
      }
      const server = yamux({ enableKeepAlive: false })().createStreamMuxer(i)
      muxers.push(client as unknown as { abort(e: Error): void }, server)
    }
    try {
      open(0)
      await new Promise((r) => setTimeout(r, 130))
      open(1)
      await new Promise((r) => setTimeout(r, INTERVAL * 2.6))
      for (const k of [0, 1]) {
        assert.ok(sent[k].length >= 3, `connection ${k} pinged ${sent[k].length} times`)
        for (const t of sent[k].slice(1)) {
          // a timer may fire a millisecond or two before its instant
          const off = Math.min(t % INTERVAL, INTERVAL - (t % INTERVAL))
          assert.ok(off < 30, `a ping ${off} ms off the grid point (connection ${k}: ${sent[k]})`)
        }
        // and no ping twice for one grid point (an early timer must not aim at the point it serves)
        const gaps = sent[k].slice(2).map((t, i) => t - sent[k][i + 1])
        assert.ok(
          gaps.every((g) => g > INTERVAL / 2),
          `pings too close together (connection ${k}: ${sent[k]})`,
        )
      }
      // every later ping of the second connection goes out with one of the first's, although they
      // opened 130 ms apart (a grid point may fall between the two openings: then the first
      // connection has one ping more)
      for (const t of sent[1].slice(1)) {
        assert.ok(
          sent[0].slice(1).some((u) => Math.abs(t - u) < 30),
          `no ping of connection 0 with ${t}: ${sent[0]} / ${sent[1]}`,
        )
      }
    } finally {
      for (const m of muxers) m.abort(new Error('test over'))
    }
  })
})
