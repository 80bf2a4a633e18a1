/**
 * The NAT-traversal lab: a public segment with member relays, and two home LANs behind Linux
 * MASQUERADE routers that drop unsolicited inbound, or reject it (a RST: `filter: 'reject'`),
 * optionally symmetric (--random-fully).
 *
 *   public 198.18.60.0/24 : relay1 (owner, relay), relay2 (relay), natA wan, natB wan
 *   lanA   198.18.61.0/24 : a, a2      (behind natA)
 *   lanB   198.18.62.0/24 : b          (behind natB)
 */
import { type Host, type Miniupnpd, type NatFilter, startMiniupnpd } from '@meshlan/lab'
import { createMeshLab, formMesh, type MeshLab } from './mesh-lab.ts'

export interface NatLabInit {
  prefix: string
  symmetricB?: boolean
  /** Put a second host on LAN A. @default false */
  withA2?: boolean
  /**
   * a2's listening port. Two members behind one NAT on the same port: the NAT gives the public
   * port to one of them only and the other looks symmetric (docs/nat.md); another port makes a2 a
   * second, independent pair with b. @default 7946
   */
  a2Port?: number
  /** What both NATs do with unsolicited inbound. @default 'drop' */
  filter?: NatFilter
}

const RELAY_CONFIG = 'relay = true\nlisten = ["/ip4/0.0.0.0/tcp/7946"]\n'
const NODE_CONFIG = 'listen = ["/ip4/0.0.0.0/tcp/7946"]\n'

export async function createNatLab(init: NatLabInit): Promise<MeshLab> {
  const ml = await createMeshLab({
    prefix: init.prefix,
    build: async (lab) => {
      await lab.addSegment('pub', { cidr: '198.18.60.0/24' })
      await lab.addSegment('lana', { cidr: '198.18.61.0/24' })
      await lab.addSegment('lanb', { cidr: '198.18.62.0/24' })
      await lab.addNatRouter('nata', { wan: 'pub', lan: 'lana', filter: init.filter })
      await lab.addNatRouter('natb', {
        wan: 'pub',
        lan: 'lanb',
        symmetric: init.symmetricB === true,
        filter: init.filter,
      })
      const hosts: Host[] = [
        await lab.addHost('relay1', { segment: 'pub' }),
        await lab.addHost('relay2', { segment: 'pub' }),
        await lab.addHost('a', { segment: 'lana' }),
        await lab.addHost('b', { segment: 'lanb' }),
      ]
      if (init.withA2 === true) hosts.push(await lab.addHost('a2', { segment: 'lana' }))
      return hosts
    },
  })
  try {
    const members: Record<string, string> = { relay2: 'home', a: 'home', b: 'home' }
    const config: Record<string, string> = {
      relay1: RELAY_CONFIG,
      relay2: RELAY_CONFIG,
      a: NODE_CONFIG,
      b: NODE_CONFIG,
    }
    if (init.withA2 === true) {
      members.a2 = 'home'
      config.a2 = init.a2Port == null ? NODE_CONFIG : `listen = ["/ip4/0.0.0.0/tcp/${init.a2Port}"]\n`
    }
    await formMesh(ml, { owner: 'relay1', network: 'home', keys: { home: null }, members, config })
  } catch (err) {
    await ml.teardown()
    throw err
  }
  return ml
}

/**
 * Relays without configuration: one public member and two home LANs (drop NATs), nobody with any
 * relay setting (the default, relay = "auto"). Not formed: the test runs `up` itself, to time it.
 *
 *   public 198.18.63.0/24 : pub (owner), natA wan, natB wan
 *   lanA   198.18.64.0/24 : a      lanB 198.18.65.0/24 : b
 */
export async function createAutoRelayLab(prefix: string, filter?: NatFilter): Promise<MeshLab> {
  const ml = await createMeshLab({
    prefix,
    build: async (lab) => {
      await lab.addSegment('pub', { cidr: '198.18.63.0/24' })
      await lab.addSegment('lana', { cidr: '198.18.64.0/24' })
      await lab.addSegment('lanb', { cidr: '198.18.65.0/24' })
      await lab.addNatRouter('nata', { wan: 'pub', lan: 'lana', filter })
      await lab.addNatRouter('natb', { wan: 'pub', lan: 'lanb', filter })
      return [
        await lab.addHost('pub', { segment: 'pub' }),
        await lab.addHost('a', { segment: 'lana' }),
        await lab.addHost('b', { segment: 'lanb' }),
      ]
    },
  })
  for (const n of ml.nodes.values()) n.config(NODE_CONFIG)
  return ml
}

/**
 * A home router that maps ports (miniupnpd: UPnP IGD v2 and NAT-PMP) in front of `a`, a public
 * relay (the owner) and a public member `c` that does not relay. The public segment is ordinary
 * unicast space because miniupnpd refuses a reserved WAN address (see @meshlan/lab miniupnpd.ts);
 * the lab has no route out.
 *
 *   public 11.70.0.0/24   : relay1 (owner, relay = true), c (relay = false), natA wan
 *   lanA   198.18.66.0/24 : a (defaults: relay = "auto", [nat] port_mapping = true)
 */
export async function createUpnpLab(prefix: string): Promise<MeshLab & { upnp: Miniupnpd }> {
  let upnp: Miniupnpd | undefined
  const ml = await createMeshLab({
    prefix,
    build: async (lab) => {
      await lab.addSegment('pub', { cidr: '11.70.0.0/24' })
      await lab.addSegment('lana', { cidr: '198.18.66.0/24' })
      const nat = await lab.addNatRouter('nata', { wan: 'pub', lan: 'lana' })
      upnp = await startMiniupnpd(nat, { dir: lab.logDir, lanCidr: '198.18.66.0/24' })
      return [
        await lab.addHost('relay1', { segment: 'pub', address: '11.70.0.10' }),
        await lab.addHost('c', { segment: 'pub', address: '11.70.0.11' }),
        await lab.addHost('a', { segment: 'lana' }),
      ]
    },
  })
  try {
    await formMesh(ml, {
      owner: 'relay1',
      network: 'home',
      keys: { home: null },
      members: { c: 'home', a: 'home' },
      // 11.70/24 is public where 198.18/15 is not: libp2p alone would announce only loopback for
      // these members (no AutoNAT); meshlan announces its listening port on every interface
      // address (reachability announceAddrs), so no `announce` is needed here
      config: {
        relay1: RELAY_CONFIG,
        c: `relay = false\n${NODE_CONFIG}`,
        a: NODE_CONFIG,
      },
    })
  } catch (err) {
    await ml.teardown()
    throw err
  }
  if (upnp == null) throw new Error('miniupnpd did not start')
  return Object.assign(ml, { upnp })
}

/**
 * Two members behind one home router that does not hairpin (plain MASQUERADE: a connection from
 * the LAN to the router's own public address ends at the router, which drops or resets it), with
 * home addresses in 192.168/16 as real homes have (the other labs' 198.18/15 is not a LAN range
 * for meshlan, so they never exercise the shared-NAT rules for private addresses).
 *
 *   public 198.18.70.0/24 : relay1 (owner, relay), relay2 (relay), natH wan
 *   home   192.168.1.0/24 : a, a2   (behind natH)
 */
export async function createSharedNatLab(prefix: string, filter?: NatFilter): Promise<MeshLab> {
  const ml = await createMeshLab({
    prefix,
    build: async (lab) => {
      await lab.addSegment('pub', { cidr: '198.18.70.0/24' })
      await lab.addSegment('home', { cidr: '192.168.1.0/24' })
      await lab.addNatRouter('nath', { wan: 'pub', lan: 'home', filter })
      return [
        await lab.addHost('relay1', { segment: 'pub' }),
        await lab.addHost('relay2', { segment: 'pub' }),
        await lab.addHost('a', { segment: 'home' }),
        await lab.addHost('a2', { segment: 'home' }),
      ]
    },
  })
  try {
    await formMesh(ml, {
      owner: 'relay1',
      network: 'home',
      keys: { home: null },
      members: { relay2: 'home', a: 'home', a2: 'home' },
      config: { relay1: RELAY_CONFIG, relay2: RELAY_CONFIG, a: NODE_CONFIG, a2: NODE_CONFIG },
    })
  } catch (err) {
    await ml.teardown()
    throw err
  }
  return ml
}

export interface DoubleNatLabInit {
  prefix: string
  /** The carrier NAT picks a random source port per flow (--random-fully). @default false */
  symmetricCarrier?: boolean
  /** What every NAT does with unsolicited inbound. @default 'drop' */
  filter?: NatFilter
}

/**
 * Double NAT: a home router whose WAN sits in a carrier-grade NAT's 100.64.0.0/10 (RFC 6598), so
 * `a` is behind two MASQUERADEs; `b` is behind an ordinary home router on the public segment.
 *
 *   public  198.18.72.0/24 : relay1 (owner, relay), relay2 (relay), cgn wan, natB wan
 *   carrier 100.64.0.0/24  : homeA wan            (behind cgn, the carrier NAT)
 *   lanA    192.168.1.0/24 : a                    (behind homeA)
 *   lanB    192.168.2.0/24 : b                    (behind natB)
 */
export async function createDoubleNatLab(init: DoubleNatLabInit): Promise<MeshLab> {
  const ml = await createMeshLab({
    prefix: init.prefix,
    build: async (lab) => {
      await lab.addSegment('pub', { cidr: '198.18.72.0/24' })
      await lab.addSegment('carrier', { cidr: '100.64.0.0/24' })
      await lab.addSegment('lana', { cidr: '192.168.1.0/24' })
      await lab.addSegment('lanb', { cidr: '192.168.2.0/24' })
      // the carrier NAT first: the home router's default route goes through it
      await lab.addNatRouter('cgn', {
        wan: 'pub',
        lan: 'carrier',
        symmetric: init.symmetricCarrier === true,
        filter: init.filter,
      })
      await lab.addNatRouter('homea', { wan: 'carrier', lan: 'lana', filter: init.filter })
      await lab.addNatRouter('natb', { wan: 'pub', lan: 'lanb', filter: init.filter })
      return [
        await lab.addHost('relay1', { segment: 'pub' }),
        await lab.addHost('relay2', { segment: 'pub' }),
        await lab.addHost('a', { segment: 'lana' }),
        await lab.addHost('b', { segment: 'lanb' }),
      ]
    },
  })
  try {
    await formMesh(ml, {
      owner: 'relay1',
      network: 'home',
      keys: { home: null },
      members: { relay2: 'home', a: 'home', b: 'home' },
      config: { relay1: RELAY_CONFIG, relay2: RELAY_CONFIG, a: NODE_CONFIG, b: NODE_CONFIG },
    })
  } catch (err) {
    await ml.teardown()
    throw err
  }
  return ml
}

/**
 * Joining without the owner: the owner and one member relay on the public segment, a newcomer
 * behind a home NAT. Not formed: the test runs every step, to switch the owner off.
 *
 *   public 198.18.74.0/24  : owner, relay (relay = true), natN wan
 *   lanN   192.168.20.0/24 : newcomer (behind natN)
 */
export async function createJoinLab(prefix: string, filter?: NatFilter): Promise<MeshLab> {
  const ml = await createMeshLab({
    prefix,
    build: async (lab) => {
      await lab.addSegment('pub', { cidr: '198.18.74.0/24' })
      await lab.addSegment('lann', { cidr: '192.168.20.0/24' })
      await lab.addNatRouter('natn', { wan: 'pub', lan: 'lann', filter })
      return [
        await lab.addHost('owner', { segment: 'pub' }),
        await lab.addHost('relay', { segment: 'pub' }),
        await lab.addHost('newcomer', { segment: 'lann' }),
      ]
    },
  })
  return ml
}

export interface Ipv6CgnatLabInit {
  prefix: string
  /** What home A's router does with unsolicited inbound (IPv4 and IPv6). @default 'drop' */
  filterA?: NatFilter
  /** The same for home B. @default 'reject' */
  filterB?: NatFilter
}

/** The relay's config: dual stack by default (no `listen`: meshlan's default is both families). */
const DUAL_RELAY_CONFIG = 'relay = true\n'
/** A home member: the defaults (dual stack, relay = "auto"), no port mapping (no router speaks it). */
const DUAL_NODE_CONFIG = '[nat]\nport_mapping = false\n'

/**
 * IPv4 carrier-grade NAT plus global IPv6, as many homes have it (issue 10): each home router is
 * behind its carrier's symmetric NAT (--random-fully: IPv4 hole punching cannot work), while
 * IPv6 is routed end to end — the carrier routes each home's prefix without a firewall, the home
 * router runs a stateful firewall (replies in; the rest dropped at A, rejected with a RST at B).
 * IPv6 prefixes are in 2001:2::/48 (RFC 5180 benchmarking: global unicast to meshlan, routed
 * nowhere), as the IPv4 side uses 198.18/15. No route leaves the lab.
 *
 *   pub    198.18.76.0/24 2001:2:0:76::/64 : relay1 (owner, relay = true), cgnA wan, cgnB wan
 *   carrA  100.64.1.0/24  2001:2:0:a0::/64 : homeA wan   (behind cgnA: symmetric NAT, IPv6 open)
 *   carrB  100.64.2.0/24  2001:2:0:b0::/64 : homeB wan   (behind cgnB)
 *   lanA   192.168.1.0/24 2001:2:0:a1::/64 : a           (behind homeA: NAT + stateful IPv6 firewall)
 *   lanB   192.168.2.0/24 2001:2:0:b1::/64 : b           (behind homeB)
 *
 * relay1, a and b also hold a ULA (fd00:<segment>::a/64) and a link-local address: neither may
 * ever be announced.
 */
export async function createIpv6CgnatLab(init: Ipv6CgnatLabInit): Promise<MeshLab> {
  const filterA = init.filterA ?? 'drop'
  const filterB = init.filterB ?? 'reject'
  const ml = await createMeshLab({
    prefix: init.prefix,
    build: async (lab) => {
      await lab.addSegment('pub', { cidr: '198.18.76.0/24', cidr6: '2001:2:0:76::/64' })
      await lab.addSegment('carra', { cidr: '100.64.1.0/24', cidr6: '2001:2:0:a0::/64' })
      await lab.addSegment('carrb', { cidr: '100.64.2.0/24', cidr6: '2001:2:0:b0::/64' })
      await lab.addSegment('lana', { cidr: '192.168.1.0/24', cidr6: '2001:2:0:a1::/64' })
      await lab.addSegment('lanb', { cidr: '192.168.2.0/24', cidr6: '2001:2:0:b1::/64' })
      // the carriers first: the home routers' default routes go through them
      const carrier = { symmetric: true, filter: 'drop', firewall6: 'open' } as const
      await lab.addNatRouter('cgna', { wan: 'pub', lan: 'carra', ...carrier })
      await lab.addNatRouter('cgnb', { wan: 'pub', lan: 'carrb', ...carrier })
      await lab.addNatRouter('homea', { wan: 'carra', lan: 'lana', filter: filterA })
      await lab.addNatRouter('homeb', { wan: 'carrb', lan: 'lanb', filter: filterB })
      const hosts = [
        await lab.addHost('relay1', { segment: 'pub' }),
        await lab.addHost('a', { segment: 'lana' }),
        await lab.addHost('b', { segment: 'lanb' }),
      ]
      await lab.routeIpv6()
      // a ULA beside the global address, as many homes have: never announced (nat.md)
      for (const h of hosts) {
        const i = h.iface()
        const ula = `fd00:${(i.address6 ?? '').split(':')[3]}::a/64`
        const r = await h.exec('ip', ['-6', 'addr', 'add', ula, 'dev', i.ifname, 'nodad'])
        if (r.code !== 0) throw new Error(`${h.name}: adding ${ula}: ${r.stderr}`)
      }
      return hosts
    },
  })
  try {
    await formMesh(ml, {
      owner: 'relay1',
      network: 'home',
      keys: { home: null },
      members: { a: 'home', b: 'home' },
      config: { relay1: DUAL_RELAY_CONFIG, a: DUAL_NODE_CONFIG, b: DUAL_NODE_CONFIG },
    })
  } catch (err) {
    await ml.teardown()
    throw err
  }
  return ml
}
