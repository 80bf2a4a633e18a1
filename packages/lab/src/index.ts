/**
 * @meshlan/lab: network-namespace labs for end-to-end tests, the demo and benchmarks.
 *
 * A lab is a set of Linux network namespaces named `<prefix>…`: one switch namespace holding a bridge
 * per segment, one namespace per host and per NAT router, joined by veth pairs created directly
 * inside those namespaces. Nothing is added to the machine's own (root) network namespace, and
 * teardown() (also run on exit/SIGINT/SIGTERM) removes everything. Needs root.
 */
export { type CleanReport, cleanLab, listLabNamespaces } from './cleanup.ts'
export * from './constants.ts'
export {
  LabAddressError,
  LabClosedError,
  LabCommandError,
  LabNameError,
  LabNotFoundError,
  LabPermissionError,
  LabTimeoutError,
} from './errors.ts'
export {
  type Firewall6,
  Host,
  type HostInterface,
  type NatFilter,
  NatRouter,
  type PingOptions,
  type PortForward,
  type SpawnOptions,
} from './host.ts'
export { type Iperf3Received, iperf3Received, startIperf3Server } from './iperf3.ts'
export { type Cidr6, formatIpv6, parseCidr6, parseIpv6 } from './ipv6.ts'
export {
  canRunLabs,
  createLab,
  formatLab,
  type HostInit,
  Lab,
  type LabDescription,
  type LabInit,
  type LabLog,
  type NatRouterInit,
  type Segment,
  type SegmentInit,
} from './lab.ts'
export { type Miniupnpd, type MiniupnpdInit, startMiniupnpd } from './miniupnpd.ts'
export { hostNamespace, switchNamespace } from './names.ts'
export { LabProcess, type ProcessExit } from './process.ts'
export type { ExecResult, RunOptions } from './run.ts'
export { buildLab, type LabSpec, parseLabSpec, type SpecResult } from './spec.ts'
export { type WaitOptions, waitFor } from './wait.ts'
