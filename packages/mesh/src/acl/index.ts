/**
 * meshlan ACLs: what members that joined with a mesh key may reach.
 *
 * - `parseAcl()` / `validateAcl()` read the JSON format (docs/acl.md) and return issues, never throw.
 * - `compileAcl()` resolves `node:` / `tag:` names into flat typed arrays; the result answers
 *   `allows()` / `reachesAnything()` without allocating, and `explain()` for humans.
 * - `createConntrack()` tracks accepted flows, each peer in its own bounded share, so replies (and
 *   ICMP errors about them) pass; `createPacketFilter()` combines both per peer into allocation-free
 *   `checkIngress(header)` / `checkEgress(header)` verdicts that say why, with counters.
 */
export type { AclContext, CompiledAcl } from './compile.ts'
export { allowAllAcl, compileAcl, denyAllAcl, describeTraffic } from './compile.ts'
export type { Conntrack, ConntrackInit, ConntrackTtls } from './conntrack.ts'
export { createConntrack } from './conntrack.ts'
export * from './constants.ts'
export { InvalidConntrackOptionError } from './errors.ts'
export type { PacketFilter, PacketFilterInit, StreamRouting } from './filter.ts'
export {
  ACCEPT,
  createPacketFilter,
  DROP_ACL,
  DROP_ICMP_UNRELATED,
  DROP_MALFORMED,
  DROP_NO_ROUTE,
  DROP_NOT_MEMBER,
  DROP_SPOOF,
  mayOpenStream,
  VERDICT_COUNT,
  VERDICT_NAMES,
  VERDICT_REASONS,
} from './filter.ts'
export { formatIpv4, parseIpv4, prefixMask } from './ip.ts'
export type {
  Acl,
  AclFile,
  AclFileRule,
  AclIssue,
  AclPort,
  AclPortProto,
  AclResult,
  AclRule,
  AclTarget,
} from './schema.ts'
export { aclToFile, formatAclIssues, parseAcl, parseAclPort, parseAclTarget, validateAcl } from './schema.ts'
