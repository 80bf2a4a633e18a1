/**
 * @meshlan/mesh — the meshlan node: everything a member does.
 *
 * - `createMeshNode()` composes libp2p with meshlan's services: membership (the hello gate, the
 *   owner-signed policy, the one signer, member bindings), topology (records on gossip and sync),
 *   reachability (paths, relays, hole punching) and tunnel (stream gate and packet pump).
 * - `computePeerTable()` is the pure recompute: (policy, records, self) → addresses, names, ACLs.
 * - `assignAddresses()` is the deterministic address rule; `RouteTable` the LPM table.
 * - `acl/` parses, compiles and enforces mesh-key ACLs.
 * - `PacketDevice` is what the pump needs of a TUN (the real one, or a fake in tests).
 */
export * from './acl/index.ts'
export {
  type Assignment,
  assignAddresses,
  assignIdentities,
  candidateAddress,
  chooseBinding,
  type Identity,
  provisionalName,
  usableHosts,
} from './addressing.ts'
export * from './constants.ts'
export * from './errors.ts'
export { addrFamily, announceableFamily, type IpFamily, ipFamily, isGlobalIpv6 } from './ip-family.ts'
export {
  createLogger,
  envLogLevel,
  type Logger,
  type LogLevel,
  type LogLevelRef,
  RateLimitedLog,
  stderrIsJournal,
} from './logger.ts'
export { type BindRequest, bindMembers, moveOwnerNode } from './membership/binder.ts'
export { MembershipGate } from './membership/gate.ts'
export { ALLOW_ALL_ACL, type Membership, OWNER_KEY_NAME, PolicyStore } from './membership/policy-store.ts'
export { MembershipService, membership } from './membership/service.ts'
export { PolicySigner } from './membership/signer.ts'
export { MemoryDevice } from './memory-device.ts'
export * from './network.ts'
export { createMeshNode, MeshNode, type MeshNodeInit } from './node.ts'
export { hostGlobalIpv6s, hostIpv4s } from './overlay.ts'
export {
  type Advertised,
  computePeerTable,
  type PeerEntry,
  type PeerTable,
  type PeerTableInput,
  type RoutePrefix,
} from './peer-table.ts'
export { createPump, type PacketDevice, PUMP_DROPS, Pump, refuseStream } from './pump.ts'
export * from './reachability/index.ts'
export { RouteTable } from './route-table.ts'
export { type HostRouting, type RoutingOptions, type RoutingState, routingState } from './routing/settings.ts'
export type { NodeStatus, PeerStatus, PingResult } from './status.ts'
export { RecordStore } from './topology/records.ts'
export { TopologyService, topology } from './topology/service.ts'
export { createTransport, type MeshLibp2p, type UnderlayTransport } from './transport.ts'
export { TunnelService, tunnel } from './tunnel/service.ts'
