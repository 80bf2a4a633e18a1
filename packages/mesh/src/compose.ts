/**
 * How a node is put together: libp2p with meshlan's services in dependency order — membership,
 * topology, tunnel, reachability — each declaring the others it reads as components. node.ts calls
 * this once and keeps only what it needs to answer; nothing else builds a node.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MAX_RECORD_ADDRS, type NodeRecord, sanitizeName, uint32ToIp } from '@meshlan/wire'
import { DEFAULT_LISTEN, GOSSIP_HEARTBEAT_MS, MAX_RECORD_RELAYS_SENT } from './constants.ts'
import type { Logger } from './logger.ts'
import { type MembershipService, membership } from './membership/service.ts'
import type { Advertised } from './peer-table.ts'
import type { PacketDevice } from './pump.ts'
import type { RelayMode } from './reachability/relay-role.ts'
import type { RelayLimits } from './reachability/service.ts'
import { type Reachability, reachability } from './reachability/service.ts'
import type { RoutingOptions } from './routing/settings.ts'
import type { Ticker } from './ticker.ts'
import { type RecordFields, type TopologyService, topology } from './topology/service.ts'
import { createTransport, type MeshLibp2p, type UnderlayTransport } from './transport.ts'
import { type TunnelService, tunnel } from './tunnel/service.ts'

export interface MeshNodeInit extends RoutingOptions {
  privateKey: PrivateKey
  /**
   * A protected network's owner key, apart from `privateKey` (the node key): makes this node the
   * owner's node, signing with it; throws while the key is locked. @default none
   */
  signingKey?: () => PrivateKey
  networkId: string
  /** Peer id of the network owner: the only key whose policies we accept. */
  owner: string
  /** Wanted node name (the owner binds it, made unique, when it admits us). */
  name: string
  /** The meshlan version this node runs: in its record, and so in every member's status. */
  version?: string
  /** The newest policy envelope we hold (always, on the owner). */
  policy?: Uint8Array | null
  /** Our membership claim (base64 envelope); null on the owner. */
  claim?: string | null
  /** The join string's first policy version: older policies are stale copies. @default 1 */
  minPolicyVersion?: number
  /** Multiaddrs of members to contact first (with /p2p/ ids). */
  bootstrap?: string[]
  /** @default DEFAULT_LISTEN (IPv4 and IPv6, port DEFAULT_LISTEN_PORT) */
  listen?: string[]
  announce?: string[]
  /** The underlay transport instead of TCP (tests: @libp2p/memory). @default TCP */
  underlay?: UnderlayTransport
  /** The packet device; omit for a control-plane-only node (tests). */
  device?: PacketDevice | null
  /** The device's MTU (every node of a network should use the same). @default DEFAULT_MTU */
  mtu?: number
  /** Records seen before a restart, offered again at start (validated like any other). */
  knownRecords?: Uint8Array[]
  /**
   * Serve as a member relay (circuit relay v2 without default limits, members only): true, false,
   * or "auto" (once members outside our network can dial us back: reachability/relay-role.ts).
   * The daemon's default is "auto". @default false
   */
  relay?: RelayMode
  /** Hold reservations on member relays and announce them. @default true unless this node relays now */
  relayClient?: boolean
  /** What our member relay forwards per member (`[nat] relay_*`). @default no cap, no quota */
  relayLimits?: RelayLimits
  /**
   * Map our listening port on the home router (UPnP IGD / NAT-PMP) and announce the mapped
   * address (reachability/port-mapping.ts). The daemon's default is true. @default false
   */
  portMapping?: boolean
  /**
   * Called with an underlay IPv4 address before we dial it (libp2p dials and hole punches), once the
   * node's exit-client bypass holds it: the daemon adds its `throw` route there, so the first SYN
   * does not go into the tunnel. @default none
   */
  beforeUnderlayDial?: (ip: string) => Promise<void>
  /** Debounce of recompute after a change. @default 50 */
  recomputeDebounceMs?: number
  log?: Logger
}

/** meshlan's libp2p services, by their name in the services map. */
export type NodeServices = {
  membership: MembershipService
  topology: TopologyService
  tunnel: TunnelService
  reachability: Reachability
}

/** What the services ask of the node that owns them. */
export interface NodeHooks {
  describe(): RecordFields | null
  isMember(peerId: string): boolean
  underlay(addr: string): boolean
  /** An underlay address (multiaddr or IP) is about to be dialled. */
  beforeDial(addr: string): Promise<void>
  selfName(): string
}

export async function composeNode(
  init: MeshNodeInit,
  log: Logger,
  /** The node's periodic upkeep, handed to each service and driven by gossipsub's heartbeat. */
  ticker: Ticker,
  hooks: NodeHooks,
): Promise<{ lp: MeshLibp2p<NodeServices> }> {
  let services: NodeServices | null = null
  const lp = await createTransport<NodeServices>(
    {
      privateKey: init.privateKey,
      networkId: init.networkId,
      listen: init.listen ?? [...DEFAULT_LISTEN],
      announce: init.announce,
      underlay: init.underlay,
      // "auto" runs the server from the start; the gater admits reservations only while we relay
      relayServer: init.relay === true || init.relay === 'auto',
      gater: {
        deny: (peer) => services?.membership.gate.denies(peer) ?? false,
        relaying: () => services?.reachability.relaying() ?? init.relay === true,
        isMember: (peer) => hooks.isMember(peer.toString()),
        underlay: (addr) => hooks.underlay(addr),
        beforeDial: (addr) => hooks.beforeDial(addr),
        relayRefusal: (src, dst) =>
          services?.reachability.relayRefusal(src.toString(), dst.toString()) ?? null,
      },
    },
    {
      membership: membership({
        networkId: init.networkId,
        owner: init.owner,
        claim: init.claim ?? null,
        policy: init.policy,
        minPolicyVersion: init.minPolicyVersion,
        privateKey: init.privateKey,
        signingKey: init.signingKey,
        log: log.child('membership'),
      }),
      topology: topology({
        privateKey: init.privateKey,
        networkId: init.networkId,
        bootstrap: init.bootstrap ?? [],
        knownRecords: init.knownRecords ?? [],
        describe: () => hooks.describe(),
        ticker,
        log: log.child('topology'),
      }),
      tunnel: tunnel({
        device: init.device ?? null,
        mtu: init.mtu,
        openStream: (peer) => {
          if (services == null) throw new Error('reachability is not up yet')
          return services.reachability.openTunnel(peer)
        },
        selfName: () => hooks.selfName(),
        ticker,
        log: log.child('tunnel'),
      }),
      reachability: reachability({
        selfId: peerIdFromPrivateKey(init.privateKey).toString(),
        log: log.child('reachability'),
        relay: init.relay ?? false,
        holdReservations: init.relayClient,
        portMapping: init.portMapping ?? false,
        relayLimits: init.relayLimits,
        explicitAnnounce: (init.announce?.length ?? 0) > 0,
        beforeDial: (ip) => hooks.beforeDial(ip),
        ticker,
      }),
    },
  )
  services = lp.services
  ticker.drive(lp.services.pubsub, GOSSIP_HEARTBEAT_MS)
  return { lp }
}

/** Our record's content: the name we ask for (the owner binds it), addresses, paths, relays. */
export function selfRecord(s: {
  self: { ip: number; counter: number }
  wanted: string
  relay: boolean
  /** Our underlay multiaddrs (overlay ones already filtered out). */
  addrs: string[]
  reach: Reachability
  /** Our route and exit-node offer. */
  offer: Advertised
  /** The meshlan version we run, for others' status. */
  version?: string
}): RecordFields & Pick<NodeRecord, 'routes' | 'exitNode' | 'version'> {
  const { reach } = s
  return {
    name: sanitizeName(s.wanted),
    ip: uint32ToIp(s.self.ip),
    counter: s.self.counter,
    // the router's mapping first: it is the one address members outside can dial
    addrs: [...new Set([...reach.mappedAddrs(), ...s.addrs])]
      .filter((a) => !a.includes('/p2p-circuit'))
      .map((a) => a.replace(/\/p2p\/[^/]+$/, ''))
      .slice(0, MAX_RECORD_ADDRS),
    // Sent empty (issue 14): nothing reads a member's links, and with 50 peers they were ~4 KB of
    // a ~5 KB record that every node regossips every RECORD_REPUBLISH_MS. The field stays in the
    // format, so older nodes' records still parse.
    links: [],
    relays: reach.circuitAddrs().slice(0, MAX_RECORD_RELAYS_SENT),
    relay: s.relay,
    observed: reach.announcedMapping(),
    routes: [...s.offer.routes],
    exitNode: s.offer.exitNode,
    ...(s.version == null ? {} : { version: s.version }),
  }
}
