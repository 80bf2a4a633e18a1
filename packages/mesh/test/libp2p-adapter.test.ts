/**
 * The libp2p adapter's contract, over real loopback TCP with two nodes built by createTransport.
 * Each assertion names the libp2p assumption it guards: when a libp2p upgrade breaks one, this
 * file says which, before hole punching fails silently in the field.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import type { Socket } from 'node:net'
import { after, before, describe, it, type TestContext } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import { dialFromPort, TunAddonMissingError } from '@meshlan/tun'
import {
  adapterOf,
  COMPONENT_CONTRACT,
  checkComponents,
  type Libp2pAdapter,
} from '../src/reachability/libp2p-adapter.ts'
import { discardPunched } from '../src/reachability/punch-dial.ts'
import { createTransport, type MeshLibp2p } from '../src/transport.ts'
import { socketPair, until } from './helpers.ts'
import { blast, type RelayFixture, relayFixture } from './relay-fixture.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const ECHO = '/meshlan/test/adapter-echo/1.0.0'

async function node(): Promise<MeshLibp2p> {
  const lp = await createTransport({
    privateKey: await generateKeyPair('Ed25519'),
    networkId: 'adaptertest',
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  await lp.handle(ECHO, (stream) => {
    stream.addEventListener('message', (evt) => stream.send(evt.data))
    stream.addEventListener('remoteCloseWrite', () => void stream.close().catch(() => {}))
  })
  await lp.start()
  return lp
}

async function echo(conn: Connection, text: string): Promise<string> {
  const stream = await conn.newStream(ECHO, { signal: AbortSignal.timeout(5000) })
  const got = new Promise<string>((resolve, reject) => {
    stream.addEventListener('message', (evt) => resolve(new TextDecoder().decode(evt.data.subarray())))
    stream.addEventListener('close', () => reject(new Error('echo stream closed without data')))
  })
  stream.send(new TextEncoder().encode(text))
  const out = await got
  await stream.close().catch(() => {})
  return out
}

function skipWithoutAddon(t: TestContext, err: unknown): boolean {
  if (err instanceof TunAddonMissingError) {
    t.skip(`the native dialer is not built (${err.message}): run scripts/test.sh once`)
    return true
  }
  return false
}

describe('libp2p adapter contract (real loopback TCP)', () => {
  let a: MeshLibp2p
  let b: MeshLibp2p
  let aa: Libp2pAdapter
  let ab: Libp2pAdapter
  before(async () => {
    a = await node()
    b = await node()
    aa = adapterOf(a)
    ab = adapterOf(b)
  })
  after(async () => {
    await a?.stop()
    await b?.stop()
  })

  it('(a) the TCP listener binds with SO_REUSEPORT: dialFromPort from the listening port succeeds', async (t) => {
    const ports = aa.tcpListenPorts()
    assert.equal(ports.length, 1, 'assumption: transportManager.getListeners() lists our TCP listener')
    const [bPort] = ab.tcpListenPorts()
    // assumption of announceAddrs: a listener reports the address it is bound to, port included
    assert.ok(
      aa.tcpListenAddrs().some((x) => /^\/ip4\/[\d.]+\/tcp\/\d+$/.test(x) && x.endsWith(`/tcp/${ports[0]}`)),
      `tcpListenAddrs: ${aa.tcpListenAddrs().join(' ')}`,
    )
    assert.ok(
      a.getMultiaddrs().some((m) => m.toString().includes(`/tcp/${ports[0]}`)),
      'listening',
    )
    let socket: Socket
    try {
      socket = await dialFromPort({
        localAddress: '127.0.0.1',
        localPort: ports[0],
        remoteAddress: '127.0.0.1',
        remotePort: bPort,
        timeoutMs: 3000,
      })
    } catch (err) {
      if (skipWithoutAddon(t, err)) return
      assert.fail(
        `assumption broken: @libp2p/tcp passes listenOpts.reusePort to server.listen() ` +
          `(REUSE_PORT_LISTEN_OPTS); binding the listening port failed: ${(err as Error).message}`,
      )
    }
    assert.equal(socket.localPort, ports[0], 'the dial left from the listening port')
    socket.destroy()
  })

  it('(b) an upgraded socket is a Connection the connection manager lists, with streams both ways', async () => {
    const [sa, sb] = await socketPair()
    const [ca, cb] = await Promise.all([
      aa.upgradeSocket(sa, 'initiator', { signal: AbortSignal.timeout(5000) }),
      ab.upgradeSocket(sb, 'responder', { signal: AbortSignal.timeout(5000) }),
    ])
    assert.equal(ca.remotePeer.toString(), b.peerId.toString(), 'the initiator reached b')
    assert.equal(cb.remotePeer.toString(), a.peerId.toString(), 'the responder reached a')
    assert.ok(
      a.getConnections(b.peerId).includes(ca) && b.getConnections(a.peerId).includes(cb),
      'assumption broken: the upgrader announces the connection and the connection manager lists it',
    )
    assert.equal(ca.direction, 'outbound')
    assert.equal(cb.direction, 'inbound', 'assumption: upgradeOutbound({initiator:false}) runs the responder')
    // streams both ways: if both ends took the same yamux role, stream ids would clash
    assert.equal(await echo(ca, 'from a'), 'from a', 'a stream initiator → responder')
    assert.equal(await echo(cb, 'from b'), 'from b', 'a stream responder → initiator (yamux roles differ)')
    // closing the connection closes the socket underneath (socket-conn.ts drives the socket)
    const closed = new Promise<void>((r) => sb.once('close', () => r()))
    await ca.close()
    await Promise.race([
      closed,
      new Promise((_, j) => setTimeout(() => j(new Error('far socket still open 5 s after close')), 5000)),
    ])
  })

  it('(b2) two initiators fail to connect; the punched socket is then reset, leaving no TIME_WAIT for the next punch', async () => {
    const [sa, sb] = await socketPair()
    const pairOf = `${sa.localPort}-${sa.remotePort}`
    const farError = new Promise<string>((r) => {
      sb.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message))
      sb.once('close', () => r('closed'))
    })
    // both ends believe they initiate (what a responder did when it gave up waiting too early)
    const results = await Promise.allSettled([
      aa.upgradeSocket(sa, 'initiator', { signal: AbortSignal.timeout(800) }),
      ab.upgradeSocket(sb, 'initiator', { signal: AbortSignal.timeout(800) }),
    ])
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
      'two Noise initiators must not connect',
    )
    discardPunched(sa)
    assert.equal(await farError, 'ECONNRESET', 'the far end saw a reset, not a FIN')
    const tw = execFileSync('ss', ['-Htan', 'state', 'time-wait'], { encoding: 'utf8' })
    const ports = tw
      .split('\n')
      .map((l) => l.match(/:(\d+)\s+\S+:(\d+)\s*$/))
      .filter((m) => m != null)
    assert.ok(
      !ports.some((m) => `${m[1]}-${m[2]}` === pairOf || `${m[2]}-${m[1]}` === pairOf),
      `the pair ${pairOf} is in TIME_WAIT:\n${tw}`,
    )
    sb.destroy()
  })

  it('(c) the components the adapter relies on exist with the expected arity', () => {
    // the adapter checks at construction (createTransport would have thrown); again on the live
    // components here, to name each broken assumption
    const broken = aa.brokenAssumptions()
    assert.deepEqual(broken, [], `libp2p broke the adapter's component contract: ${broken.join('; ')}`)
    // and the check can fail: a components object missing a method, or with another arity
    assert.equal(checkComponents({}).length, COMPONENT_CONTRACT.length)
    const wrong = checkComponents({
      upgrader: { upgradeOutbound: (_x: unknown) => {} },
      transportManager: { listen: (_x: unknown) => {}, getListeners: () => [] },
      connectionManager: { getConnections: (_p: unknown) => [] },
      logger: { forComponent: (_n: unknown) => {} },
    })
    assert.deepEqual(wrong, ['upgrader.upgradeOutbound takes 1 arguments, expected 2'])
  })
})

describe('libp2p adapter contract: the streams a member relay forwards (circuit relay v2)', () => {
  let fx: RelayFixture
  after(async () => fx?.stop())

  it('(d) relayStreams lists the source HOP and destination STOP streams; pause() stops that direction', async () => {
    fx = await relayFixture(2)
    const [a, c] = fx.members
    const conn = await fx.circuit(a, c)
    const load = blast(conn, 2500)
    await until(() => fx.received(c, a) > 0, 3000, 'bytes through the relay')
    const streams = adapterOf(fx.relay).relayStreams()
    const of = (n: MeshLibp2p) => streams.filter((s) => s.member === n.peerId.toString())
    // assumption: a circuit is a's inbound HOP stream piped to an outbound STOP stream to c
    assert.equal(of(a).length, 1, `a's streams: ${of(a).map((s) => s.stream.protocol)}`)
    assert.equal(of(a)[0].stream.protocol, '/libp2p/circuit/relay/0.2.0/hop')
    assert.equal(of(c).length, 1, `c's streams: ${of(c).map((s) => s.stream.protocol)}`)
    assert.equal(of(c)[0].stream.protocol, '/libp2p/circuit/relay/0.2.0/stop')
    // assumption: the relay's pipe reads through 'message' events, so a paused HOP stream (yamux
    // withholds window) stops what a sends from reaching c, and resume() lets it go on
    of(a)[0].stream.pause()
    await sleep(200) // what was in flight (one window) lands
    const paused = fx.received(c, a)
    await sleep(500)
    const whilePaused = fx.received(c, a) - paused
    of(a)[0].stream.resume()
    await sleep(500)
    const afterResume = fx.received(c, a) - paused - whilePaused
    await load
    assert.equal(whilePaused, 0, `${whilePaused} B reached c while a's HOP stream was paused`)
    assert.ok(afterResume > 0, 'nothing moved after resume()')
  })
})

describe('libp2p adapter contract over IPv6 (real loopback TCP, ::1)', () => {
  let a: MeshLibp2p
  let b: MeshLibp2p
  before(async () => {
    const dual = async () => {
      const lp = await createTransport({
        privateKey: await generateKeyPair('Ed25519'),
        networkId: 'adaptertest6',
        listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'],
      })
      await lp.handle(ECHO, (stream) => {
        stream.addEventListener('message', (evt) => stream.send(evt.data))
      })
      await lp.start()
      return lp
    }
    a = await dual()
    b = await dual()
  })
  after(async () => {
    await a?.stop()
    await b?.stop()
  })

  it('(e) an IPv6 listener binds with SO_REUSEPORT (IPv6 only) and reports its address; a punch-style dial from it upgrades', async (t) => {
    // assumption of listenPort('ipv6') and announceAddrs: each family's listener reports its own
    // bound address (@libp2p/tcp: ipv6Only for /ip6, so the IPv4 listener can share the port)
    const port6 = (n: MeshLibp2p) =>
      Number(
        /^\/ip6\/::1\/tcp\/(\d+)$/.exec(
          adapterOf(n)
            .tcpListenAddrs()
            .find((x) => x.startsWith('/ip6/')) ?? '',
        )?.[1],
      )
    const [pa, pb] = [port6(a), port6(b)]
    assert.ok(pa > 0 && pb > 0, `tcpListenAddrs: ${adapterOf(a).tcpListenAddrs().join(' ')}`)
    assert.ok(
      adapterOf(a)
        .tcpListenAddrs()
        .some((x) => x.startsWith('/ip4/127.0.0.1/tcp/')),
      'and the IPv4 one',
    )
    let socket: Socket
    try {
      socket = await dialFromPort({ localPort: pa, remoteAddress: '::1', remotePort: pb, timeoutMs: 3000 })
    } catch (err) {
      if (skipWithoutAddon(t, err)) return
      assert.fail(
        `binding the IPv6 listening port for a dial failed (reusePort on /ip6): ${(err as Error).message}`,
      )
    }
    assert.equal(socket.localPort, pa, 'the dial left from the IPv6 listening port')
    assert.equal(socket.remoteFamily, 'IPv6')
    // b's listener accepted it: a's side upgrades as initiator and gets a working connection
    const conn = await adapterOf(a).upgradeSocket(socket, 'initiator', { signal: AbortSignal.timeout(5000) })
    assert.match(conn.remoteAddr.toString(), /^\/ip6\/::1\/tcp\//)
    assert.equal(await echo(conn, 'over ipv6'), 'over ipv6')
    await conn.close()
  })
})
