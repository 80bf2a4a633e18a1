/**
 * The data plane of subnet routers and exit nodes (issue 9, part B), in process: two TunnelServices
 * (a router/exit node and a client) whose pumps are joined by real libp2p stream pairs, each over a
 * MemoryDevice, driven by hand-built peer tables (the routing fields of the issue 9 spec).
 *
 * Attacks come as raw frames on the tunnel protocol (a modified peer that skips its own filter);
 * every test asserts what reached the far device and which drop counter rose.
 */
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { encodeFrame, FRAME_TYPE_IP } from '@meshlan/wire'
import { allowAllAcl, compileAcl, parseAcl, parseIpv4 } from '../src/acl/index.ts'
import type { Membership } from '../src/membership/policy-store.ts'
import type { MembershipService } from '../src/membership/service.ts'
import { MemoryDevice } from '../src/memory-device.ts'
import type { PeerEntry, PeerTable } from '../src/peer-table.ts'
import type { PumpDrop } from '../src/pump.ts'
import { TunnelService } from '../src/tunnel/service.ts'
import { ipv4Packet, quiet } from './helpers.ts'

const OVERLAY = { base: parseIpv4('10.144.0.0') as number, prefix: 16 }
const LAN = '192.168.1.0/24'
const LAN_P = { base: parseIpv4('192.168.1.0') as number, prefix: 24 }
const ROUTER = '10.144.0.1'
const CLIENT = '10.144.0.2'
const OTHER = '10.144.0.3'
const LAN_HOST = '192.168.1.7'
const NET_HOST = '8.8.4.4'
const ip = (s: string) => parseIpv4(s) as number

/** The ACL of a key, compiled as the peer table does (overlay + approved routes known). */
function acl(text: string, approved: Array<{ base: number; prefix: number }> = [LAN_P]) {
  const p = parseAcl(text)
  assert.ok(p.ok, 'test ACL parses')
  return compileAcl(p.acl, { nodeIp: () => undefined, tagIps: () => [], overlay: OVERLAY, routes: approved })
}

const ALL = () => compileAcl(allowAllAcl(), { nodeIp: () => undefined, tagIps: () => [], overlay: OVERLAY })

interface TableSpec {
  self: string
  /** Our approved routes / exit approval. */
  routes?: string[]
  exitNode?: boolean
  outbound: ReturnType<typeof acl>
  peer: {
    id: string
    ip: string
    inbound: ReturnType<typeof acl>
    routes?: Array<{ base: number; prefix: number }>
    exitNode?: boolean
  }
  /** The exit node we use. */
  exit?: string
}

/** A peer table with the issue 9 routing fields, built by hand (not yet computed by the node). */
function table(t: TableSpec): PeerTable {
  const entry = {
    peerId: t.peer.id,
    ip: ip(t.peer.ip),
    name: t.peer.id,
    bound: true,
    membership: { keyName: `key-of-${t.peer.id}` } as Membership,
    inbound: t.peer.inbound,
    allowed: false, // overlay-only answer of the table: routes/exit must add the purpose
    routes: (t.peer.routes ?? []).map((r) => ({ ...r, cidr: '' })),
    allRoutes: (t.peer.routes ?? []).map((r) => ({ ...r, cidr: '' })),
    exitNode: t.peer.exitNode ?? false,
  } as PeerEntry
  return {
    self: {
      ip: ip(t.self),
      counter: 0,
      name: 'self',
      bound: true,
      routes: { advertised: t.routes ?? [], approved: t.routes ?? [] },
      exitNode: t.exitNode ?? false,
    },
    subnet: OVERLAY,
    exit: t.exit == null ? null : { peerId: t.exit },
    outbound: t.outbound,
    peers: new Map([[entry.peerId, entry]]),
    byName: new Map(),
    invalidAcls: [],
    acceptedRoutes: [],
    exitError: null,
  } as PeerTable
}

const fakeMembership = { gate: { on() {}, handle: async () => {} } } as unknown as MembershipService

interface Pair {
  router: TunnelService
  client: TunnelService
  routerDev: MemoryDevice
  clientDev: MemoryDevice
  /** Writes raw frames from the client to the router, skipping the client's filter. */
  rawToRouter(pkts: Uint8Array[]): Promise<void>
  /** Writes raw frames from a peer without routes (OTHER) to the client. */
  streams: Stream[]
}

let running: Pair[] = []
afterEach(() => {
  for (const p of running) {
    p.router.stop()
    p.client.stop()
  }
  running = []
})

async function pair(): Promise<Pair> {
  const routerDev = new MemoryDevice()
  const clientDev = new MemoryDevice()
  let router: TunnelService
  const streams: Stream[] = []
  // each side's outbound stream is the other side's inbound one, as the stream gate would hand it
  const client = new TunnelService(
    {
      device: clientDev,
      log: quiet,
      selfName: () => 'client',
      openStream: async () => {
        const [a, b] = await streamPair()
        streams.push(a, b)
        router.pump?.acceptInbound('client', b)
        return { stream: a, path: 'direct' }
      },
    },
    { membership: fakeMembership },
  )
  router = new TunnelService(
    {
      device: routerDev,
      log: quiet,
      selfName: () => 'router',
      openStream: async () => {
        const [a, b] = await streamPair()
        streams.push(a, b)
        client.pump?.acceptInbound('router', b)
        return { stream: a, path: 'direct' }
      },
    },
    { membership: fakeMembership },
  )
  await router.start()
  await client.start()
  const p: Pair = {
    router,
    client,
    routerDev,
    clientDev,
    streams,
    async rawToRouter(pkts) {
      const [a, b] = await streamPair()
      streams.push(a, b)
      router.pump?.acceptInbound('client', b)
      for (const pkt of pkts) a.send(encodeFrame(FRAME_TYPE_IP, pkt))
      await settle()
    },
  }
  running.push(p)
  return p
}

const settle = () => new Promise((r) => setTimeout(r, 30))

function drops(s: TunnelService, reason: PumpDrop): number {
  return s.pump?.dropCounts()[reason] ?? Number.NaN
}

const dstOf = (pkt: Uint8Array) => `${pkt[16]}.${pkt[17]}.${pkt[18]}.${pkt[19]}`
const srcOf = (pkt: Uint8Array) => `${pkt[12]}.${pkt[13]}.${pkt[14]}.${pkt[15]}`

/** The router's table: it serves LAN when `approved`, is exit node when `exit`; the client's key is `clientAcl`. */
function routerTable(
  clientAcl: ReturnType<typeof acl>,
  approved = true,
  exit = false,
  routerKey = ALL(),
): PeerTable {
  return table({
    self: ROUTER,
    routes: approved ? [LAN] : [],
    exitNode: exit,
    outbound: routerKey,
    peer: { id: 'client', ip: CLIENT, inbound: clientAcl },
  })
}

/**
 * The client's table: the router serves LAN when `approved`, is the exit node we use when `exit`;
 * the router's key reaches nothing on the client (only replies come back).
 */
function clientTable(clientAcl: ReturnType<typeof acl>, approved = true, exit = false): PeerTable {
  return table({
    self: CLIENT,
    outbound: clientAcl,
    peer: {
      id: 'router',
      ip: ROUTER,
      inbound: acl('{"rules":[]}'),
      routes: approved ? [LAN_P] : [],
      exitNode: exit,
    },
    exit: exit ? 'router' : undefined,
  })
}

const LAN_KEY = `{"rules":[{"to":["${LAN}"],"ports":["53/udp","icmp"]}]}`
const OVERLAY_ONLY_KEY = `{"rules":[{"to":["${ROUTER}"]}]}`
const INTERNET_KEY = '{"rules":[{"to":["internet"]}]}'

describe('subnet router: ingress at the router', () => {
  it('an approved route: a packet for a LAN host from a key with the prefix reaches the router device', async () => {
    const p = await pair()
    p.router.apply(routerTable(acl(LAN_KEY)))
    await p.rawToRouter([ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53)])
    assert.equal(
      p.routerDev.written.length,
      1,
      'the router hands the packet to its device (the kernel forwards it)',
    )
    assert.equal(dstOf(p.routerDev.written[0]), LAN_HOST)
  })

  it('not approved: dropped NOT_OUR_ROUTE at the router, nothing reaches its device', async () => {
    const p = await pair()
    // the key reaches the router's overlay address, so the stream opens; the route is not ours
    p.router.apply(routerTable(acl(`{"rules":[{"to":["${ROUTER}","${LAN}"]}]}`), false))
    await p.rawToRouter([ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53)])
    assert.equal(p.routerDev.written.length, 0)
    assert.equal(drops(p.router, 'NOT_OUR_ROUTE'), 1)
  })

  it('revoked: delivered while approved, dropped NOT_OUR_ROUTE after the table loses the approval', async () => {
    const p = await pair()
    const key = acl(`{"rules":[{"to":["${ROUTER}","${LAN}"]}]}`)
    p.router.apply(routerTable(key, true))
    await p.rawToRouter([ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53)])
    assert.equal(p.routerDev.written.length, 1)
    p.router.apply(routerTable(key, false))
    await p.rawToRouter([ipv4Packet(CLIENT, LAN_HOST, 17, 5001, 53)])
    assert.equal(p.routerDev.written.length, 1, 'nothing more after revocation')
    assert.equal(drops(p.router, 'NOT_OUR_ROUTE'), 1)
  })

  it('a key without the prefix: dropped by the ACL at the router (raw frames)', async () => {
    const p = await pair()
    p.router.apply(routerTable(acl(OVERLAY_ONLY_KEY)))
    await p.rawToRouter([ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53)])
    assert.equal(p.routerDev.written.length, 0)
    assert.equal(drops(p.router, 'ACL'), 1)
  })

  it('a key without the prefix and nothing else here: the router refuses the tunnel stream', async () => {
    const p = await pair()
    const deny = acl('{"rules":[]}')
    p.router.apply(routerTable(acl(`{"rules":[{"to":["${OTHER}"]}]}`), true, false, deny))
    const link = p.router.peers.get('client')
    assert.equal(link?.filter, null, 'no purpose: no filter, the stream gate refuses')
    // the prefix alone gives the stream a purpose (mayOpenStream considers our approved routes)
    p.router.apply(routerTable(acl(LAN_KEY), true, false, deny))
    assert.notEqual(p.router.peers.get('client')?.filter, null)
  })

  it('anti-spoofing: a peer without routes cannot source from a LAN address', async () => {
    const p = await pair()
    p.router.apply(routerTable(acl(`{"rules":[{"to":["*"]}]}`)))
    await p.rawToRouter([ipv4Packet('192.168.7.9', ROUTER, 17, 5000, 53)])
    await p.rawToRouter([ipv4Packet('192.168.7.9', LAN_HOST, 17, 5000, 53)])
    assert.equal(p.routerDev.written.length, 0)
    assert.equal(drops(p.router, 'SPOOFED_SOURCE'), 2)
  })
})

describe('subnet router: the filtering sender and the reply', () => {
  it('client → LAN host through the router, and the LAN host’s reply back (conntrack by the routed host)', async () => {
    const p = await pair()
    const key = acl(LAN_KEY)
    p.router.apply(routerTable(key))
    p.client.apply(clientTable(key))
    p.clientDev.inject([ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53)])
    await p.routerDev.waitFor(1)
    assert.equal(dstOf(p.routerDev.written[0]), LAN_HOST)
    // the kernel of the router hands back the LAN host's answer (after SNAT is undone)
    p.routerDev.inject([ipv4Packet(LAN_HOST, CLIENT, 17, 53, 5000)])
    await p.clientDev.waitFor(1)
    assert.equal(srcOf(p.clientDev.written[0]), LAN_HOST)
    // an unsolicited packet from the LAN host to the client is no reply: the client's filter drops it
    p.routerDev.inject([ipv4Packet(LAN_HOST, CLIENT, 17, 53, 6000)])
    await settle()
    assert.equal(p.clientDev.written.length, 1)
    assert.equal(p.client.peers.get('router')?.filter?.ingressCounters[1], 1, 'DROP_ACL at the client')
  })

  it('not approved at the client: the sender has no route (NO_ROUTE), nothing is sent', async () => {
    const p = await pair()
    const key = acl(LAN_KEY)
    p.router.apply(routerTable(key))
    p.client.apply(clientTable(key, false))
    p.clientDev.inject([ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53)])
    await settle()
    assert.equal(drops(p.client, 'NO_ROUTE'), 1)
    assert.equal(p.routerDev.written.length, 0)
  })

  it('a key without the prefix: the sender drops it (ACL) and nothing is sent', async () => {
    const p = await pair()
    const key = acl(OVERLAY_ONLY_KEY)
    p.router.apply(routerTable(key))
    p.client.apply(clientTable(key))
    p.clientDev.inject([ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53)])
    await settle()
    assert.equal(drops(p.client, 'ACL'), 1)
    assert.equal(p.routerDev.written.length, 0)
  })
})

describe('exit node', () => {
  it('a key with internet: delivered to the exit node’s device; the internet host’s reply reaches the client', async () => {
    const p = await pair()
    const key = acl(INTERNET_KEY)
    p.router.apply(routerTable(key, false, true))
    p.client.apply(clientTable(key, false, true))
    p.clientDev.inject([ipv4Packet(CLIENT, NET_HOST, 17, 5000, 53)])
    await p.routerDev.waitFor(1)
    assert.equal(dstOf(p.routerDev.written[0]), NET_HOST)
    p.routerDev.inject([ipv4Packet(NET_HOST, CLIENT, 17, 53, 5000)])
    await p.clientDev.waitFor(1)
    assert.equal(srcOf(p.clientDev.written[0]), NET_HOST)
  })

  it('a key without internet: dropped by the ACL at the exit node (raw frames) and at the sender', async () => {
    const p = await pair()
    const key = acl(`{"rules":[{"to":["${ROUTER}"]}]}`)
    p.router.apply(routerTable(key, false, true))
    await p.rawToRouter([ipv4Packet(CLIENT, NET_HOST, 17, 5000, 53)])
    assert.equal(p.routerDev.written.length, 0)
    assert.equal(drops(p.router, 'ACL'), 1)
    p.client.apply(clientTable(key, false, true))
    p.clientDev.inject([ipv4Packet(CLIENT, NET_HOST, 17, 5000, 53)])
    await settle()
    assert.equal(drops(p.client, 'ACL'), 1)
    assert.equal(p.routerDev.written.length, 0)
  })

  it('internet does not reach the overlay or an approved route through the exit node', async () => {
    const p = await pair()
    const key = acl(`{"rules":[{"to":["internet","${ROUTER}"]}]}`)
    p.router.apply(routerTable(key, true, true))
    await p.rawToRouter([
      ipv4Packet(CLIENT, LAN_HOST, 17, 5000, 53), // inside an approved route: internet excludes it
      ipv4Packet(CLIENT, OTHER, 17, 5000, 53), // another overlay address: never forwarded
    ])
    assert.equal(p.routerDev.written.length, 0)
    assert.equal(drops(p.router, 'ACL'), 1)
    assert.equal(drops(p.router, 'WRONG_DESTINATION'), 1)
  })

  it('not an approved exit node: internet-bound packets are dropped NOT_OUR_ROUTE', async () => {
    const p = await pair()
    p.router.apply(routerTable(acl(`{"rules":[{"to":["internet","${ROUTER}"]}]}`), false, false))
    await p.rawToRouter([ipv4Packet(CLIENT, NET_HOST, 17, 5000, 53)])
    assert.equal(p.routerDev.written.length, 0)
    assert.equal(drops(p.router, 'NOT_OUR_ROUTE'), 1)
  })

  it('an exit node we do not use cannot source from internet addresses (anti-spoofing at the client)', async () => {
    const p = await pair()
    const key = acl(`{"rules":[{"to":["internet","${ROUTER}"]}]}`)
    p.router.apply(routerTable(key, false, true))
    p.client.apply(clientTable(key, false, false)) // approved exit, but not ours
    const [a, b] = await streamPair()
    p.streams.push(a, b)
    p.client.pump?.acceptInbound('router', b)
    a.send(encodeFrame(FRAME_TYPE_IP, ipv4Packet(NET_HOST, CLIENT, 17, 53, 5000)))
    a.send(encodeFrame(FRAME_TYPE_IP, ipv4Packet(OTHER, CLIENT, 17, 53, 5000)))
    await settle()
    assert.equal(p.clientDev.written.length, 0)
    assert.equal(drops(p.client, 'SPOOFED_SOURCE'), 2)
  })
})
