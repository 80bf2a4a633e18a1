/**
 * What a lab takes and gives, as types: the options of createLab, addSegment, addHost and
 * addNatRouter, and what describe() and collectLogs() return.
 */
import type { Firewall6, NatFilter } from './host.ts'
import type { ProcessExit } from './process.ts'

export interface LabInit {
  /** Short (1-6 chars, [a-z][a-z0-9]*), unique per test; leads every namespace and interface name. */
  prefix: string
  /** Where spawned processes log. @default `<os.tmpdir()>/meshlan-lab-<prefix>` (DEFAULT_LOG_DIR_NAME) */
  logDir?: string
  /** Time limit of `host.exec()`. @default DEFAULT_EXEC_TIMEOUT_MS (30 s) */
  execTimeoutMs?: number
  /** Tear the lab down on process 'exit', SIGINT, SIGTERM, SIGHUP. @default true */
  handleExit?: boolean
}

export interface SegmentInit {
  /** IPv4 CIDR, e.g. '198.18.10.0/24'. Must not overlap another segment of the lab. */
  cidr: string
  /**
   * An IPv6 prefix too, e.g. '2001:2:0:60::/64': every interface on the segment gets the address
   * with its IPv4 host number (198.18.60.10 → 2001:2:0:60::a), and routers route IPv6 without NAT
   * (call `lab.routeIpv6()` once the topology is built). @default none (IPv4 only)
   */
  cidr6?: string
}

export interface HostInit {
  /** First segment to attach to; omit to attach later with `host.attach()`. */
  segment?: string
  /** @default the lowest free address from host offset HOST_AUTO_OFFSET (.10) */
  address?: string
}

export interface NatRouterInit {
  wan: string
  lan: string
  /** @default the lowest free address of the WAN segment from .1 */
  wanAddress?: string
  /** @default host offset ROUTER_LAN_OFFSET (.1) of the LAN */
  lanAddress?: string
  /** MASQUERADE --random-fully (endpoint-dependent mapping, "symmetric NAT"). @default false */
  symmetric?: boolean
  /**
   * Unsolicited inbound from the WAN: 'drop' silently, or 'reject' (TCP RST, ICMP port
   * unreachable for the rest), as a router without INPUT rules or OpenWRT's wan zone. @default 'drop'
   */
  filter?: NatFilter
  /**
   * IPv6 (routed, never NATed) from the WAN into the LAN when both have an IPv6 prefix: a stateful
   * firewall that lets replies in and 'drop's or 'reject's (TCP RST, ICMPv6 port unreachable) the
   * rest, as home routers do, or 'open' (a carrier routing its customers' prefixes).
   * @default the IPv4 `filter`
   */
  firewall6?: Firewall6
}

/** A segment: one Linux bridge in the switch namespace. */
export interface Segment {
  readonly name: string
  readonly cidr: string
  readonly prefixLength: number
  /** The IPv6 prefix, when the segment has one. */
  readonly cidr6?: string
  /** Bridge name inside the switch namespace. */
  readonly bridge: string
  /** The NAT router whose LAN this is, if any. */
  readonly router: string | undefined
}

export interface LabDescription {
  prefix: string
  switchNamespace: string
  segments: Segment[]
  hosts: Array<{
    name: string
    kind: 'host' | 'router'
    namespace: string
    gateway?: string
    wan?: string
    lan?: string
    symmetric?: boolean
    filter?: NatFilter
    interfaces: Array<{ segment: string; ifname: string; address: string; address6?: string; up: boolean }>
  }>
}

export interface LabLog {
  host: string
  command: string
  pid: number | undefined
  logFile: string
  exit: ProcessExit | undefined
  text: string
}
