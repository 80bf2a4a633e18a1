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
      config.a2 = NODE_CONFIG
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
