/**
 * @meshlan/dns — MagicDNS: every node is `<name>.mesh`.
 *
 * - `createResolver()` answers A for `<name>.mesh`, `<name>.<network>.mesh` and the bare `mesh`,
 *   PTR for overlay addresses, and forwards everything else to upstream servers; UDP and TCP,
 *   rate-limited per source, hardened against malformed queries, with counters.
 * - `createHostDns()` hands `.mesh` to the host's resolver: per-link DNS through systemd-resolved, or
 *   a managed /etc/resolv.conf with a byte-for-byte backup; `restore()` and `recover()` put it back.
 * - `answerQuestion()` is the zone as a pure function; `parseResolvConf()` the resolv.conf reader.
 */
export * from './constants.ts'
export * from './errors.ts'
export {
  createHostDns,
  type HostDns,
  type HostDnsComponents,
  type HostDnsInit,
  type HostDnsMode,
  type HostDnsStatus,
} from './host.ts'
export { type CommandResult, type CommandRunner, type HostDnsFs, nodeHostFs } from './host-io.ts'
export { type DnsLogFields, type DnsLogger, silentLogger } from './log.ts'
export { RateLimiter } from './rate-limit.ts'
export { parseResolvConf, type ResolvConf, renderManagedResolvConf, usesResolvedStub } from './resolv-conf.ts'
export {
  createResolver,
  type Resolver,
  type ResolverAddress,
  type ResolverComponents,
  type ResolverCounters,
  type ResolverInit,
} from './resolver.ts'
export { ipv4ToReverseName, reverseZonesFor } from './reverse.ts'
export { formatUpstream, parseUpstream, type Upstream } from './upstream.ts'
export { answerQuestion, type NameSource, normaliseQueryName, type ZoneAnswer } from './zone.ts'
