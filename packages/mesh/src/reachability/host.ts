/**
 * What reachability needs of the libp2p node it runs in, as one small typed view: connections,
 * dialling, our addresses, protocol handlers, connection events, and the adapter. Built from
 * libp2p's declared components when reachability runs as a libp2p service (`hostOfComponents`), or
 * from a finished node (`hostOfNode`, for tests that build a bare node).
 */
import type {
  AbortOptions,
  Connection,
  Libp2pEvents,
  PeerId,
  StreamHandler,
  StreamHandlerOptions,
  TypedEventTarget,
} from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { MeshLibp2p } from '../transport.ts'
import { adapterOf, type Libp2pAdapter } from './libp2p-adapter.ts'

export interface ReachabilityHost {
  getConnections(peer?: PeerId): Connection[]
  /** `force`: a new connection even when one (a relayed one) is open already. */
  dial(
    target: PeerId | Multiaddr | Multiaddr[],
    options?: AbortOptions & { force?: boolean },
  ): Promise<Connection>
  getMultiaddrs(): Multiaddr[]
  handle(protocol: string, handler: StreamHandler, options: StreamHandlerOptions): Promise<void>
  unhandle(protocols: string[]): Promise<void>
  onConnectionOpen(fn: (conn: Connection) => void): () => void
  onConnectionClose(fn: (conn: Connection) => void): () => void
  readonly adapter: Libp2pAdapter
}

/** The components a reachability service declares (all of them libp2p's own, plus the adapter). */
export interface ReachabilityHostComponents {
  connectionManager: ConnectionManager
  addressManager: AddressManager
  registrar: Registrar
  events: TypedEventTarget<Libp2pEvents>
  libp2pAdapter: Libp2pAdapter
}

export function hostOfComponents(c: ReachabilityHostComponents): ReachabilityHost {
  return {
    getConnections: (peer) => c.connectionManager.getConnections(peer),
    dial: (target, options) => c.connectionManager.openConnection(target, options),
    getMultiaddrs: () => c.addressManager.getAddresses(),
    handle: (protocol, handler, options) => c.registrar.handle(protocol, handler, options),
    unhandle: async (protocols) => {
      for (const p of protocols) await c.registrar.unhandle(p)
    },
    onConnectionOpen: (fn) => {
      const listener = (evt: CustomEvent<Connection>): void => fn(evt.detail)
      c.events.addEventListener('connection:open', listener)
      return () => c.events.removeEventListener('connection:open', listener)
    },
    onConnectionClose: (fn) => {
      const listener = (evt: CustomEvent<Connection>): void => fn(evt.detail)
      c.events.addEventListener('connection:close', listener)
      return () => c.events.removeEventListener('connection:close', listener)
    },
    adapter: c.libp2pAdapter,
  }
}

export function hostOfNode(lp: MeshLibp2p): ReachabilityHost {
  return {
    getConnections: (peer) => lp.getConnections(peer),
    dial: (target, options) => lp.dial(target, options),
    getMultiaddrs: () => lp.getMultiaddrs(),
    handle: (protocol, handler, options) => lp.handle(protocol, handler, options),
    unhandle: (protocols) => lp.unhandle(protocols),
    onConnectionOpen: (fn) => {
      const listener = (evt: CustomEvent<Connection>): void => fn(evt.detail)
      lp.addEventListener('connection:open', listener)
      return () => lp.removeEventListener('connection:open', listener)
    },
    onConnectionClose: (fn) => {
      const listener = (evt: CustomEvent<Connection>): void => fn(evt.detail)
      lp.addEventListener('connection:close', listener)
      return () => lp.removeEventListener('connection:close', listener)
    },
    adapter: adapterOf(lp),
  }
}
