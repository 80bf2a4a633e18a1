/**
 * The Reachability service wired to real libp2p nodes on loopback TCP: its declared inputs are
 * called (a direct connection is reported, what we'd announce changed), and observed addresses
 * come from members only.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Connection } from '@libp2p/interface'
import { createLogger } from '../src/logger.ts'
import { hostOfNode } from '../src/reachability/host.ts'
import { createReachability, type Reachability } from '../src/reachability/service.ts'
import type { MeshLibp2p } from '../src/transport.ts'
import { loopbackNode, until } from './helpers.ts'

describe('Reachability service (loopback TCP)', () => {
  let a: MeshLibp2p
  let member: MeshLibp2p
  let stranger: MeshLibp2p
  const services: Reachability[] = []
  let reach: Reachability
  const direct: Array<{ peer: string; conn: Connection }> = []
  let published = 0

  before(async () => {
    a = await loopbackNode()
    member = await loopbackNode()
    stranger = await loopbackNode()
    const members = new Set([member.peerId.toString(), a.peerId.toString()])
    for (const lp of [a, member, stranger]) {
      const s = createReachability(
        { selfId: lp.peerId.toString(), log: createLogger('rs', { level: 'error' }) },
        {
          host: hostOfNode(lp),
          topology: { record: () => undefined, relays: () => [] },
          isMember: (id) => members.has(id),
          underlay: () => true,
          publishRecord: async () => {
            if (lp === a) published++
          },
          onDirect: (peer, conn) => {
            if (lp === a) direct.push({ peer, conn })
          },
          activePeers: () => [],
        },
      )
      await s.start()
      services.push(s)
    }
    reach = services[0]
  })
  after(async () => {
    for (const s of services) await s.stop()
    for (const n of [a, member, stranger]) await n?.stop()
  })

  it('knows its listening port from the adapter', () => {
    const port = reach.listenPort()
    assert.ok(port != null && a.getMultiaddrs().some((m) => m.toString().includes(`/tcp/${port}`)))
  })

  it('a non-member cannot tell us our public address; a member can', async () => {
    await a.dial(stranger.getMultiaddrs()[0])
    await new Promise((r) => setTimeout(r, 500))
    assert.deepEqual(reach.observedIps(), [], 'nothing learned from a non-member')
    assert.equal(published, 0)
    await a.dial(member.getMultiaddrs()[0])
    await until(() => reach.observedIps().length === 1, 5000, 'the member to answer observe')
    assert.deepEqual(reach.observedIps(), ['127.0.0.1'])
    assert.equal(published, 1, 'a new observed address is announced once')
    assert.deepEqual(reach.netcheck().observed, ['127.0.0.1'])
  })

  it('reports direct connections to the tunnel (onDirect) and ranks them as the path', () => {
    const m = member.peerId.toString()
    const got = direct.find((d) => d.peer === m)
    assert.ok(got, 'onDirect called for the member')
    assert.equal(reach.path(m), 'direct')
    assert.equal(reach.best(m), got.conn)
    assert.deepEqual(reach.pathDetail(m), {
      via: null,
      why: null,
      addr: got.conn.remoteAddr.toString().replace(/\/p2p\/[^/]+$/, ''),
      family: 'ipv4',
    })
  })
})

describe('Reachability watchdog: sleeps while no tunnel is active (issue 14, idle CPU)', () => {
  it('looks once, sleeps, wakes when the pump says a tunnel started, watches it every round, sleeps again', async () => {
    const node = await loopbackNode()
    let rounds = 0
    let active: string[] = []
    let wake: ((peerId: string) => void) | null = null
    const s = createReachability(
      { selfId: node.peerId.toString(), log: createLogger('rs', { level: 'error' }) },
      {
        host: hostOfNode(node),
        topology: { record: () => undefined, relays: () => [] },
        isMember: () => false,
        underlay: () => true,
        publishRecord: async () => {},
        onDirect: () => {},
        activePeers: () => {
          rounds++
          return active
        },
        onTunnelActive: (fn) => {
          wake = fn
          return () => {
            wake = null
          }
        },
      },
    )
    try {
      await s.start()
      assert.ok(wake != null, 'the service registered for tunnel starts')
      await until(() => s.watchdogAsleep, 3000, 'the first round to find nothing and sleep')
      const asleepAt = rounds
      await new Promise((r) => setTimeout(r, 2500))
      assert.equal(rounds, asleepAt, 'no rounds while asleep (it polled every second before)')
      // a tunnel starts (to a peer we hold no connection to: the round finds no path to ping, but
      // the tunnel is active)
      const other = await loopbackNode()
      const peer = other.peerId.toString()
      await other.stop()
      active = [peer]
      const t0 = Date.now()
      ;(wake as unknown as (p: string) => void)(peer)
      await until(() => rounds > asleepAt, 1000, 'a round right after the wake-up')
      const woke = Date.now() - t0
      assert.ok(woke < 500, `the round ran ${woke} ms after the tunnel started`)
      await new Promise((r) => setTimeout(r, 1000))
      assert.ok(rounds - asleepAt >= 3, `${rounds - asleepAt} rounds in ~1 s while active (every 300 ms)`)
      assert.equal(s.watchdogAsleep, false)
      active = []
      await until(() => s.watchdogAsleep, 2000, 'the watchdog to sleep once the tunnel is quiet')
    } finally {
      await s.stop()
      assert.equal(wake, null, 'stop unsubscribes')
      await node.stop()
    }
  })
})
