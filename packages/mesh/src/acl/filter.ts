/**
 * The per-peer packet filter: ACL + connection tracking, one verdict per packet, no allocation.
 *
 * Ingress (peer → us): accept if the packet answers a flow we tracked, else if the peer's key may reach
 * it (`inbound`), tracking the flow. Egress (us → peer): accept if it answers a flow we tracked, else if
 * our key may reach it (`outbound`), tracking the flow. Everything else is dropped and counted.
 */
import type { CompiledAcl } from './compile.ts'
import type { Conntrack } from './conntrack.ts'
import { DEFAULT_ANTI_SPOOF, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, PROTO_ICMP } from './constants.ts'

/** The packet may pass. */
export const ACCEPT = 0
/** No rule of the relevant key allows it and it answers no tracked flow. */
export const DROP_ACL = 1
/** Ingress packet whose source address is not the peer's (anti-spoofing). */
export const DROP_SPOOF = 2
/** The peer's key (ingress) or our key (egress) is not in the policy: nothing passes. */
export const DROP_NOT_MEMBER = 3
/** No route for the destination (counted by the pump; the filter never returns it). */
export const DROP_NO_ROUTE = 4
/** The packet could not be parsed (counted by the pump; the filter never returns it). */
export const DROP_MALFORMED = 5
/** Number of verdicts: the length of the counter arrays. */
export const VERDICT_COUNT = 6

/** Verdict names indexed by verdict, for logs and metrics. */
export const VERDICT_NAMES: readonly string[] = Object.freeze([
  'ACCEPT',
  'DROP_ACL',
  'DROP_SPOOF',
  'DROP_NOT_MEMBER',
  'DROP_NO_ROUTE',
  'DROP_MALFORMED',
])

export interface PacketFilterInit {
  /** Our mesh address (uint32). */
  selfIp: number
  /** The peer's mesh address (uint32). */
  peerIp: number
  /** What the peer's key may reach; null when the peer's key is not (or no longer) in the policy. */
  inbound: CompiledAcl | null
  /** What our key may reach; null when our key is not (or no longer) in the policy. */
  outbound: CompiledAcl | null
  /** Flow table; may be shared by every peer's filter (entries are keyed by address). */
  conntrack: Conntrack
  /**
   * Drop ingress packets whose source is not `peerIp` with DROP_SPOOF.
   * @default true
   */
  antiSpoof?: boolean
}

/**
 * Hot-path methods take parsed header fields: addresses as uint32, `proto` the IP protocol number,
 * ports (ignored for ICMP), `icmpType` (ignored unless proto is 1; pass -1 if unknown). For ICMP pass
 * the echo identifier as `sport` (0 when there is none).
 */
export interface PacketFilter {
  readonly selfIp: number
  readonly peerIp: number
  /** Verdict for a packet arriving from the peer. */
  checkIngress(
    src: number,
    dst: number,
    proto: number,
    sport: number,
    dport: number,
    icmpType: number,
    nowMs: number,
  ): number
  /** Verdict for a packet we are about to send to the peer. */
  checkEgress(
    src: number,
    dst: number,
    proto: number,
    sport: number,
    dport: number,
    icmpType: number,
    nowMs: number,
  ): number
  /**
   * Stream-open check: may the peer reach anything on us, or may we reach anything on the peer?
   * (Addresses behind us or the peer, e.g. routed subnets, are not considered.)
   */
  streamAllowed(): boolean
  /** Swaps in recompiled ACLs; takes effect from the next packet. Tracked flows keep their replies. */
  replace(inbound: CompiledAcl | null, outbound: CompiledAcl | null): void
  /** Counts of ingress verdicts, indexed by verdict. The pump may count its own drops here. */
  readonly ingressCounters: Float64Array
  /** Counts of egress verdicts, indexed by verdict. */
  readonly egressCounters: Float64Array
  /** Counters as `{ ingress: { ACCEPT: n, … }, egress: { … } }` (allocates; for metrics and logs). */
  counters(): { ingress: Record<string, number>; egress: Record<string, number> }
  /** Zeroes both counter arrays. */
  resetCounters(): void
  readonly inbound: CompiledAcl | null
  readonly outbound: CompiledAcl | null
}

/** Whether a stream between us and a peer has any purpose under the given ACLs. */
export function mayOpenStream(
  selfIp: number,
  peerIp: number,
  inbound: CompiledAcl | null,
  outbound: CompiledAcl | null,
): boolean {
  return inbound?.reachesAnything(selfIp) === true || outbound?.reachesAnything(peerIp) === true
}

export function createPacketFilter(init: PacketFilterInit): PacketFilter {
  const selfIp = init.selfIp >>> 0
  const peerIp = init.peerIp >>> 0
  const ct = init.conntrack
  const antiSpoof = init.antiSpoof ?? DEFAULT_ANTI_SPOOF
  let inbound = init.inbound
  let outbound = init.outbound
  const ingressCounters = new Float64Array(VERDICT_COUNT)
  const egressCounters = new Float64Array(VERDICT_COUNT)

  /**
   * Shared by both directions. ICMP: an echo request is never a reply and only echo requests are tracked
   * (so a peer cannot slip a request through as the "reply" to one of ours); the echo id is both ports.
   */
  function check(
    acl: CompiledAcl,
    src: number,
    dst: number,
    proto: number,
    sport: number,
    dport: number,
    icmpType: number,
    nowMs: number,
  ): number {
    if (proto === PROTO_ICMP) {
      if (icmpType === ICMP_ECHO_REPLY && ct.isReply(proto, src, dst, sport, sport, nowMs)) return 0
      if (!acl.allows(dst, proto, 0, icmpType)) return 1
      if (icmpType === ICMP_ECHO_REQUEST) ct.track(proto, src, dst, sport, sport, nowMs)
      return 0
    }
    if (ct.isReply(proto, src, dst, sport, dport, nowMs)) return 0
    if (!acl.allows(dst, proto, dport)) return 1
    ct.track(proto, src, dst, sport, dport, nowMs)
    return 0
  }

  function checkIngress(
    src: number,
    dst: number,
    proto: number,
    sport: number,
    dport: number,
    icmpType: number,
    nowMs: number,
  ): number {
    let v: number
    if (inbound === null) v = DROP_NOT_MEMBER
    else if (antiSpoof && src >>> 0 !== peerIp) v = DROP_SPOOF
    else v = check(inbound, src, dst, proto, sport, dport, icmpType, nowMs)
    ingressCounters[v]++
    return v
  }

  function checkEgress(
    src: number,
    dst: number,
    proto: number,
    sport: number,
    dport: number,
    icmpType: number,
    nowMs: number,
  ): number {
    const v =
      outbound === null ? DROP_NOT_MEMBER : check(outbound, src, dst, proto, sport, dport, icmpType, nowMs)
    egressCounters[v]++
    return v
  }

  return {
    selfIp,
    peerIp,
    checkIngress,
    checkEgress,
    streamAllowed: () => mayOpenStream(selfIp, peerIp, inbound, outbound),
    replace(nextInbound, nextOutbound) {
      inbound = nextInbound
      outbound = nextOutbound
    },
    ingressCounters,
    egressCounters,
    counters() {
      const named = (a: Float64Array) => Object.fromEntries(VERDICT_NAMES.map((name, i) => [name, a[i]]))
      return { ingress: named(ingressCounters), egress: named(egressCounters) }
    },
    resetCounters() {
      ingressCounters.fill(0)
      egressCounters.fill(0)
    },
    get inbound() {
      return inbound
    },
    get outbound() {
      return outbound
    },
  }
}
