/**
 * @meshlan/mesh — the meshlan node: everything a member does.
 *
 * - `createMeshNode()` composes the libp2p transport, the owner-signed policy, topology gossip,
 *   coordinator-free addressing, per-key ACL filters and the packet pump.
 * - `assignAddresses()` is the deterministic address rule; `RouteTable` the LPM table.
 * - `acl/` parses, compiles and enforces mesh-key ACLs.
 * - `PacketDevice` is what the pump needs of a TUN (the real one, or a fake in tests).
 */
export * from './acl/index.ts'
export { type Assignment, assignAddresses, candidateAddress, usableHosts } from './addressing.ts'
export * from './constants.ts'
export * from './errors.ts'
export { createLogger, type Logger, type LogLevel, RateLimitedLog } from './logger.ts'
export { MemoryDevice } from './memory-device.ts'
export * from './network.ts'
export {
  createMeshNode,
  MeshNode,
  type MeshNodeInit,
  type NodeStatus,
  type PeerStatus,
  type PingResult,
} from './node.ts'
export { ALLOW_ALL_ACL, type Membership, OWNER_KEY_NAME, PolicyStore } from './policy-store.ts'
export { createPump, type PacketDevice, PUMP_DROPS, Pump, refuseStream } from './pump.ts'
export { RouteTable } from './route-table.ts'
export { normaliseName, Topology, uniqueNames } from './topology.ts'
export { createTransport, type MeshLibp2p } from './transport.ts'
