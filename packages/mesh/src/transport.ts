/**
 * The libp2p assembly: one node per machine with TCP (or an in-memory transport in tests),
 * Noise, Yamux tuned for a tunnel, identify, ping, a private kad-dht, gossipsub and circuit
 * relay. Never dials public bootstrap lists: the only peers are the ones members hand us.
 */
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  dhtProtocol,
  INBOUND_CONNECTION_RATE,
  MAX_CONNECTIONS,
  MAX_INCOMING_PENDING,
  YAMUX_INITIAL_WINDOW,
  YAMUX_MAX_WINDOW,
} from './constants.ts'
import {
  LIBP2P_ADAPTER_SERVICE,
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
   * 'tcp' for real nodes, 'memory' for in-process tests.
   * @default 'tcp'
   */
  transport?: 'tcp' | 'memory'
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
}

// biome-ignore lint/suspicious/noExplicitAny: the service map is heterogeneous by design
export type MeshLibp2p = Libp2p<Record<string, any>>

export async function createTransport(init: TransportInit): Promise<MeshLibp2p> {
  const transports =
    init.transport === 'memory'
      ? [memory(), circuitRelayTransport({ reservationCompletionTimeout: 5000 })]
      : [
          // a tunnel may sit idle for hours: yamux keepalive, not a socket timeout, decides liveness
          tcp({
            inboundSocketInactivityTimeout: 0,
            outboundSocketInactivityTimeout: 0,
            // the listening port is shared with the hole-punch dialer (SO_REUSEPORT)
            listenOpts: REUSE_PORT_LISTEN_OPTS,
          }),
          circuitRelayTransport({ reservationCompletionTimeout: 5000 }),
        ]
  return createLibp2p({
    privateKey: init.privateKey,
    start: false,
    addresses: {
      listen: init.listen,
      announce: init.announce ?? [],
      // never tell peers (identify) about addresses inside the overlay
      announceFilter: (addrs) => addrs.filter((a) => init.gater?.underlay?.(a.toString()) ?? true),
    },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux({
        // A tunnel stream is idle whenever the user is: never time it out; windows kept small
        // so a loaded tunnel doesn't queue seconds of data ahead of a ping.
        streamOptions: {
          inactivityTimeout: 0,
          initialStreamWindowSize: YAMUX_INITIAL_WINDOW,
          maxStreamWindowSize: YAMUX_MAX_WINDOW,
          maxReadBufferLength: 8 * 1024 * 1024,
        },
        enableKeepAlive: true,
      }),
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
      denyDialMultiaddr: async (ma) => !(init.gater?.underlay?.(ma.toString()) ?? true),
      denyInboundEncryptedConnection: async (peer) => init.gater?.deny(peer) ?? false,
      denyOutboundEncryptedConnection: async (peer) => init.gater?.deny(peer) ?? false,
      // member relays: reservations and relayed connections for members only
      denyInboundRelayReservation: async (source) => !(init.gater?.isMember(source) ?? false),
      denyOutboundRelayedConnection: async (source, destination) =>
        !((init.gater?.isMember(source) ?? false) && (init.gater?.isMember(destination) ?? false)),
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
              hopTimeout: 10_000,
            }),
          }
        : {}),
      identify: identify({ runOnLimitedConnection: true }),
      ping: ping({ runOnLimitedConnection: true, maxInboundStreams: 8, maxOutboundStreams: 8 }),
      dht: kadDHT({
        protocol: dhtProtocol(init.networkId),
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true,
        // members are found by gossip and sync first; the DHT is the fallback lookup, so it
        // needn't hammer a small mesh with self-queries at start
        initialQuerySelfInterval: 60_000,
        querySelfInterval: 5 * 60_000,
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        runOnLimitedConnection: true,
        floodPublish: true,
        doPX: false,
        heartbeatInterval: 700,
        directConnectTicks: 30,
      }),
    },
  })
}
