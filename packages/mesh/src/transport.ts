/**
 * The libp2p assembly: one node per machine with TCP (or a transport a test hands in), Noise,
 * Yamux tuned for a tunnel, identify (run only after the membership handshake), ping, gossipsub
 * and circuit relay, then meshlan's own services in the order given. Never dials public bootstrap
 * lists: the only peers are the ones members hand us.
 *
 * No DHT: member records (gossip + sync) already carry every member's addresses and relays, so a
 * kad-dht only added a table strangers could read and a dial-back path (measured: 50 nodes in one
 * process converge as fast without it, packages/mesh/test/mesh-scale.test.ts).
 */
import { type CircuitRelayService, circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type {
  ComponentLogger,
  Libp2pEvents,
  PeerId,
  PeerStore,
  PrivateKey,
  Transport,
  TypedEventTarget,
} from '@libp2p/interface'
import type {
  AddressManager,
  ConnectionManager,
  Registrar,
  TransportManager,
} from '@libp2p/interface-internal'
import { noise } from '@libp2p/noise'
import { type Ping, ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p, type ServiceFactoryMap } from 'libp2p'

type ServiceMap = Record<string, unknown>

import {
  GOSSIP_BEHAVIOUR_PENALTY_DECAY,
  GOSSIP_D,
  GOSSIP_D_HIGH,
  GOSSIP_D_LAZY,
  GOSSIP_D_LOW,
  GOSSIP_D_OUT,
  GOSSIP_D_SCORE,
  GOSSIP_HEARTBEAT_MS,
  GOSSIP_HISTORY_GOSSIP,
  GOSSIP_IDONTWANT_MIN_BYTES,
  GOSSIP_IP_COLOCATION_WEIGHT,
  INBOUND_CONNECTION_RATE,
  KEEPALIVE_MS,
  MAX_CONNECTIONS,
  MAX_INCOMING_PENDING,
  RELAY_HOP_TIMEOUT_MS,
  RELAY_RESERVATION_TIMEOUT_MS,
  YAMUX_INITIAL_WINDOW,
  YAMUX_MAX_WINDOW,
  YAMUX_RELAYED_MAX_WINDOW,
} from './constants.ts'
import { gossipFastId } from './gossip-id.ts'
import { announceableFamily } from './ip-family.ts'
import { noiseCrypto } from './noise-crypto.ts'
import { pathAwareEncrypter, pathAwareMuxer, type RelayedStreams, relayStreamWindow } from './path-windows.ts'
import {
  LIBP2P_ADAPTER_SERVICE,
  type Libp2pAdapter,
  libp2pAdapter,
  REUSE_PORT_LISTEN_OPTS,
} from './reachability/libp2p-adapter.ts'

export interface TransportInit {
  privateKey: PrivateKey
  networkId: string
  /** Multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/7946 or /memory/node-1 */
  listen: string[]
  /** Addresses to announce instead of the listen addresses (e.g. a public address). */
  announce?: string[]
  /**
   * The underlay transport in place of TCP (tests hand in @libp2p/memory); hole punching needs TCP.
   * @default tcp() with SO_REUSEPORT
   */
  underlay?: UnderlayTransport
  /** @default MAX_CONNECTIONS */
  maxConnections?: number
  /**
   * Peers refused at every stage of a connection (revoked nodes), and the membership test the
   * member relay applies to reservations and relayed connections.
   */
  gater?: TransportGater
  /**
   * Run a member relay: circuit relay v2 server without the default data/time limits, granting
   * reservations and relayed connections to members only.
   * @default false
   */
  relayServer?: boolean
}

export interface TransportGater {
  deny(peer: PeerId): boolean
  isMember(peer: PeerId): boolean
  /**
   * False for addresses that must never be announced or dialled as an underlay path: those inside
   * the overlay subnet (a connection there would run inside the tunnel itself).
   */
  underlay?(addr: string): boolean
  /**
   * Called with each underlay address libp2p is about to dial, after `underlay` allowed it and before
   * the connect: an exit client routes it outside the tunnel first (routing/dial-bypass.ts).
   */
  beforeDial?(addr: string): Promise<void>
  /**
   * Whether our member relay serves now (relay = "auto" runs the server from the start but grants
   * reservations and hops only while reachable from outside). @default true
   */
  relaying?(): boolean
  /**
   * Why our member relay must not connect these two members now (one is over its relay quota),
   * or null (relay-governor.ts).
   */
  relayRefusal?(source: PeerId, destination: PeerId): string | null
}

/** A libp2p transport factory (`memory()` from @libp2p/memory in tests). */
export type UnderlayTransport = (components: CoreComponents) => Transport

/** The services every meshlan libp2p node has, before meshlan's own. */
export type BaseServices = {
  libp2pAdapter: Libp2pAdapter
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  relay?: CircuitRelayService
}

/** The libp2p components meshlan's services may declare (a subset of libp2p's Components). */
export interface CoreComponents {
  peerId: PeerId
  addressManager: AddressManager
  registrar: Registrar
  connectionManager: ConnectionManager
  transportManager: TransportManager
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** Factories of meshlan's services; each sees the core components, the base services and the others. */
export type MeshServiceFactories<S> = {
  [K in keyof S]: (components: CoreComponents & BaseServices & S) => S[K]
}

/** A libp2p node with the base services and whatever services the caller composed. */
export type MeshLibp2p<S extends ServiceMap = ServiceMap> = Libp2p<BaseServices & S>

/** Yamux as a tunnel wants it; `maxWindow` by path (path-windows.ts). */
function yamuxInit(maxWindow: number): Parameters<typeof yamux>[0] {
  return {
    // A tunnel stream is idle whenever the user is: never time it out; windows kept small on a
    // direct path so a loaded tunnel doesn't queue seconds of data ahead of a ping.
    streamOptions: {
      inactivityTimeout: 0,
      initialStreamWindowSize: YAMUX_INITIAL_WINDOW,
      maxStreamWindowSize: maxWindow,
      // a circuit's hop and stop streams carry members' relayed tunnels (path-windows.ts)
      maxStreamWindowSizeFor: relayStreamWindow,
      maxReadBufferLength: 8 * 1024 * 1024,
    },
    // both ends ping: NAT mappings stay open, and each end has an RTT and knows whether the
    // peer answers (keepalive.ts reads it); nothing else pings an idle connection
    enableKeepAlive: true,
    keepAliveInterval: KEEPALIVE_MS,
  }
}

export async function createTransport<S extends ServiceMap = ServiceMap>(
  init: TransportInit,
  /** meshlan's services, created after libp2p's own (so they may declare those as components). */
  services: MeshServiceFactories<S> = {} as MeshServiceFactories<S>,
): Promise<MeshLibp2p<S>> {
  const transports =
    init.underlay != null
      ? [init.underlay, circuitRelayTransport({ reservationCompletionTimeout: RELAY_RESERVATION_TIMEOUT_MS })]
      : [
          // a tunnel may sit idle for hours: yamux keepalive, not a socket timeout, decides liveness
          tcp({
            inboundSocketInactivityTimeout: 0,
            outboundSocketInactivityTimeout: 0,
            // the listening port is shared with the hole-punch dialer (SO_REUSEPORT)
            listenOpts: REUSE_PORT_LISTEN_OPTS,
          }),
          circuitRelayTransport({ reservationCompletionTimeout: RELAY_RESERVATION_TIMEOUT_MS }),
        ]
  // which encrypted streams are relayed connections: their muxer gets the larger windows
  const relayedStreams: RelayedStreams = new WeakSet()
  return createLibp2p<BaseServices & S>({
    privateKey: init.privateKey,
    start: false,
    addresses: {
      listen: init.listen,
      announce: init.announce ?? [],
      // never tell peers (identify) about addresses inside the overlay, nor IPv6 that is not
      // global unicast (link-local, ULA, ::1: ip-family.ts)
      announceFilter: (addrs) =>
        addrs.filter(
          (a) => (init.gater?.underlay?.(a.toString()) ?? true) && announceableFamily(a.toString()),
        ),
    },
    transports,
    // Noise with our AEAD: sealed into one buffer, opened in place (noise-crypto.ts)
    connectionEncrypters: [pathAwareEncrypter(noise({ crypto: noiseCrypto() }), relayedStreams)],
    streamMuxers: [
      pathAwareMuxer(
        yamux(yamuxInit(YAMUX_MAX_WINDOW)),
        yamux(yamuxInit(YAMUX_RELAYED_MAX_WINDOW)),
        relayedStreams,
      ),
    ],
    // The monitor aborts connections whose pings are slow under load: we keep our own keepalive.
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: init.maxConnections ?? MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING,
      inboundConnectionThreshold: INBOUND_CONNECTION_RATE,
    },
    connectionGater: {
      denyDialPeer: async (peer) => init.gater?.deny(peer) ?? false,
      denyDialMultiaddr: async (ma) => {
        if (!(init.gater?.underlay?.(ma.toString()) ?? true)) return true
        await init.gater?.beforeDial?.(ma.toString())
        return false
      },
      denyInboundEncryptedConnection: async (peer) => init.gater?.deny(peer) ?? false,
      denyOutboundEncryptedConnection: async (peer) => init.gater?.deny(peer) ?? false,
      // member relays: reservations and relayed connections for members only
      denyInboundRelayReservation: async (source) =>
        !((init.gater?.isMember(source) ?? false) && (init.gater?.relaying?.() ?? true)),
      denyOutboundRelayedConnection: async (source, destination) =>
        !(
          (init.gater?.isMember(source) ?? false) &&
          (init.gater?.isMember(destination) ?? false) &&
          (init.gater?.relaying?.() ?? true) &&
          (init.gater?.relayRefusal?.(source, destination) ?? null) == null
        ),
      denyInboundRelayedConnection: async (_relay, remote) => !(init.gater?.isMember(remote) ?? false),
    },
    peerDiscovery: [],
    services: {
      // the one typed door into libp2p's components (upgrader, transport manager): see the file
      [LIBP2P_ADAPTER_SERVICE]: libp2pAdapter(),
      ...(init.relayServer === true
        ? {
            relay: circuitRelayServer({
              reservations: { applyDefaultLimit: false, maxReservations: 256 },
              maxInboundHopStreams: 256,
              maxOutboundHopStreams: 256,
              hopTimeout: RELAY_HOP_TIMEOUT_MS,
            }),
          }
        : {}),
      // identify tells a peer our addresses and protocols: the membership gate runs it once the
      // handshake admitted the peer, never on connection open
      identify: identify({ runOnLimitedConnection: true, runOnConnectionOpen: false }),
      ping: ping({ runOnLimitedConnection: true, maxInboundStreams: 8, maxOutboundStreams: 8 }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        runOnLimitedConnection: true,
        floodPublish: true,
        // a copy of a message already accepted skips the signature check (gossip-id.ts)
        fastMsgIdFn: gossipFastId,
        doPX: false,
        heartbeatInterval: GOSSIP_HEARTBEAT_MS,
        // the mesh and gossip sized for a members-only network (constants.ts, issue 14)
        D: GOSSIP_D,
        Dlo: GOSSIP_D_LOW,
        Dhi: GOSSIP_D_HIGH,
        Dout: GOSSIP_D_OUT,
        Dscore: GOSSIP_D_SCORE,
        Dlazy: GOSSIP_D_LAZY,
        gossipFactor: 0,
        mcacheGossip: GOSSIP_HISTORY_GOSSIP,
        idontwantMinDataSize: GOSSIP_IDONTWANT_MIN_BYTES,
        directConnectTicks: 30,
        scoreParams: {
          IPColocationFactorWeight: GOSSIP_IP_COLOCATION_WEIGHT,
          decayInterval: GOSSIP_HEARTBEAT_MS,
          behaviourPenaltyDecay: GOSSIP_BEHAVIOUR_PENALTY_DECAY,
        },
      }),
      // libp2p's Components is not exported by name; CoreComponents is the part of it our services
      // declare (every name exists there: packages/mesh/test/libp2p-adapter.test.ts)
      ...(services as object),
    } as unknown as ServiceFactoryMap<BaseServices & S>,
  })
}
