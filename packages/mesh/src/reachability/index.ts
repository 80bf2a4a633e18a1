/**
 * Reachability: paths, relays, hole punching, NAT probe, the direct-path watchdog
 * (`createReachability`, see service.ts for the wiring), and the one typed libp2p adapter.
 */

export { DIALBACK_PROTOCOL } from './dialback.ts'
export { AdapterMissingError, Libp2pAssumptionError, NoPathError, RelayQuotaExceededError } from './errors.ts'
export type { PunchStats } from './holepunch.ts'
export {
  hostOfComponents,
  hostOfNode,
  type ReachabilityHost,
  type ReachabilityHostComponents,
} from './host.ts'
export {
  adapterOf,
  checkComponents,
  LIBP2P_ADAPTER_SERVICE,
  type Libp2pAdapter,
  type Libp2pAdapterComponents,
  libp2pAdapter,
  REUSE_PORT_LISTEN_OPTS,
  type RelayedStream,
  type UpgradeRole,
} from './libp2p-adapter.ts'
export type { NatMapping } from './nat-probe.ts'
export { type DirectFailure, isRelayed, type PathKind, pingConnection } from './paths.ts'
export type { PortMapProtocol } from './port-map-client.ts'
export type { PortMappingStatus, PortMappingView } from './port-mapping.ts'
export {
  RelayGovernor,
  type RelayGovernorInit,
  type RelayGovernorStats,
  type RelayMemberUsage,
} from './relay-governor.ts'
export type { RelayMode, RelayStatus } from './relay-role.ts'
export {
  createReachability,
  type Netcheck,
  type PathDetail,
  Reachability,
  type ReachabilityComponents,
  type ReachabilityInit,
  type ReachabilityServiceComponents,
  type RelayLimits,
  reachability,
  type TopologyView,
} from './service.ts'
