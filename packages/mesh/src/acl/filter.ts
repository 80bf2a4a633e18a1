/**
 * The per-peer packet filter: ACL + connection tracking, one verdict per packet, no allocation.
 *
 * Ingress (peer → us): accept if the packet answers a flow we tracked, else if the peer's key may reach
 * it (`inbound`), tracking the flow. Egress (us → peer): accept if it answers a flow we tracked, else if
 * our key may reach it (`outbound`), tracking the flow. ICMP errors (which carry the header of another
 * packet) pass in either direction only when that packet belongs to a live flow with this peer, as in
 * a stateful firewall; no rule admits them. Every other packet is dropped with a verdict that says
 * why, counted per direction.
 *
 * Flows are tracked in the peer's own share of the conntrack table (keyed by the peer's address), so
 * one peer can neither evict another's flows nor match them.
 */
import type { PacketHeader } from '@meshlan/wire'
import type { CompiledAcl } from './compile.ts'
import type { Conntrack } from './conntrack.ts'
import { DEFAULT_ANTI_SPOOF, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, PROTO_ICMP } from './constants.ts'
import { prefixMask } from './ip.ts'

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
/**
 * An ICMP error (unreachable, time exceeded, …) about a packet that belongs to no live flow with
 * this peer: it would let the peer forge errors about other flows (cut connections, shrink MTUs).
 */
export const DROP_ICMP_UNRELATED = 6
/** Number of verdicts: the length of the counter arrays. */
export const VERDICT_COUNT = 7

/** Verdict names indexed by verdict, for logs and metrics. */
export const VERDICT_NAMES: readonly string[] = Object.freeze([
  'ACCEPT',
  'DROP_ACL',
  'DROP_SPOOF',
  'DROP_NOT_MEMBER',
  'DROP_NO_ROUTE',
  'DROP_MALFORMED',
  'DROP_ICMP_UNRELATED',
])

/** Why each verdict drops, indexed by verdict, for logs and `explain` texts. */
export const VERDICT_REASONS: readonly string[] = Object.freeze([
  'accepted',
  'no rule of the key allows it and it answers no tracked flow',
  'its source is neither the peer’s overlay address nor inside its approved routes (nor is the peer the exit node we use)',
  'the key is not in the policy',
  'no route to its destination',
  'not a well-formed IPv4 packet',
  'an ICMP error about no tracked flow with this peer',
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
  /** Flow table; may be shared by every peer's filter (each peer has its own bounded share). */
  conntrack: Conntrack
  /**
   * Drop ingress packets whose source is not `peerIp` with DROP_SPOOF.
   * @default true
   */
  antiSpoof?: boolean
  /**
   * Every approved route the peer serves (primary or not): sources it may send from, and what a
   * stream to it may be for.
   * @default []
   */
  peerRoutes?: ReadonlyArray<{ base: number; prefix: number }>
  /**
   * The peer is the exit node we use: replies from the internet come from any source.
   * @default false
   */
  peerExit?: boolean
  /**
   * Our own approved routes: what the peer's key may want to reach through us.
   * @default []
   */
  selfRoutes?: ReadonlyArray<{ base: number; prefix: number }>
  /**
   * We are an approved exit node: the peer's key may want the internet through us.
   * @default false
   */
  selfExit?: boolean
}

/** What a stream between us and a peer may carry besides the two overlay addresses. */
export interface StreamRouting {
  /** Our approved routes. */
  selfRoutes?: ReadonlyArray<{ base: number; prefix: number }>
  /** We are an approved exit node. */
  selfExit?: boolean
  /** The peer's approved routes. */
  peerRoutes?: ReadonlyArray<{ base: number; prefix: number }>
  /** The peer is the exit node we use. */
  peerExit?: boolean
}

/**
 * Hot-path methods take a PacketHeader that `parse()` accepted (reuse one per pump direction) and
 * return a verdict: ACCEPT, or the DROP_* constant that says why (`VERDICT_NAMES` / `VERDICT_REASONS`).
 */
export interface PacketFilter {
  readonly selfIp: number
  readonly peerIp: number
  /** Verdict for a packet arriving from the peer. */
  checkIngress(h: PacketHeader, nowMs: number): number
  /** Verdict for a packet we are about to send to the peer. */
  checkEgress(h: PacketHeader, nowMs: number): number
  /**
   * Stream-open check: may the peer reach anything on us (or behind us: our approved routes, the
   * internet when we are an exit node), or we anything on or behind the peer?
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

/**
 * Whether a stream between us and a peer has any purpose under the given ACLs: either side reaches
 * the other's overlay address, a route the other serves, or the internet through the other as exit
 * node. Default deny: routes and exit count only when `routing` names them.
 */
export function mayOpenStream(
  selfIp: number,
  peerIp: number,
  inbound: CompiledAcl | null,
  outbound: CompiledAcl | null,
  routing: StreamRouting = {},
): boolean {
  return (
    reaches(inbound, selfIp, routing.selfRoutes, routing.selfExit === true) ||
    reaches(outbound, peerIp, routing.peerRoutes, routing.peerExit === true)
  )
}

function reaches(
  acl: CompiledAcl | null,
  ip: number,
  routes: ReadonlyArray<{ base: number; prefix: number }> | undefined,
  exit: boolean,
): boolean {
  if (acl == null) return false
  if (acl.reachesAnything(ip)) return true
  if (exit && acl.reachesInternet) return true
  for (const r of routes ?? []) if (acl.reachesPrefix(r.base, r.prefix)) return true
  return false
}

export function createPacketFilter(init: PacketFilterInit): PacketFilter {
  const selfIp = init.selfIp >>> 0
  const peerIp = init.peerIp >>> 0
  const ct = init.conntrack
  const antiSpoof = init.antiSpoof ?? DEFAULT_ANTI_SPOOF
  const routing: StreamRouting = {
    selfRoutes: init.selfRoutes ?? [],
    selfExit: init.selfExit ?? false,
    peerRoutes: init.peerRoutes ?? [],
    peerExit: init.peerExit ?? false,
  }
  const peerExit = routing.peerExit === true
  // sources the peer may send from besides its overlay address: its approved routes, flat for the hot path
  const srcBase = Uint32Array.from(routing.peerRoutes ?? [], (r) => (r.base & prefixMask(r.prefix)) >>> 0)
  const srcMask = Uint32Array.from(routing.peerRoutes ?? [], (r) => prefixMask(r.prefix))

  function sourceOk(src: number): boolean {
    if (src === peerIp || peerExit) return true
    for (let i = 0; i < srcBase.length; i++) if ((src & srcMask[i]) >>> 0 === srcBase[i]) return true
    return false
  }
  let inbound = init.inbound
  let outbound = init.outbound
  const ingressCounters = new Float64Array(VERDICT_COUNT)
  const egressCounters = new Float64Array(VERDICT_COUNT)

  /**
   * Shared by both directions. ICMP: an echo request is never a reply and only echo requests are tracked
   * (so a peer cannot slip a request through as the "reply" to one of ours). An ICMP error must be
   * about a packet its receiver sent (embedded source = outer destination) on a live flow with this
   * peer; the echo id is both ports (the header parser sees to that).
   */
  function check(acl: CompiledAcl, h: PacketHeader, nowMs: number): number {
    if (h.proto === PROTO_ICMP) {
      if (h.icmpError) {
        return h.innerSrc === h.dst && ct.relates(peerIp, h, nowMs) ? ACCEPT : DROP_ICMP_UNRELATED
      }
      const t = h.icmpType
      if (t === ICMP_ECHO_REPLY && ct.isReply(peerIp, h, nowMs)) return ACCEPT
      if (!acl.allows(h)) return DROP_ACL
      if (t === ICMP_ECHO_REQUEST) ct.track(peerIp, h, nowMs)
      return ACCEPT
    }
    if (ct.isReply(peerIp, h, nowMs)) return ACCEPT
    if (!acl.allows(h)) return DROP_ACL
    ct.track(peerIp, h, nowMs)
    return ACCEPT
  }

  function checkIngress(h: PacketHeader, nowMs: number): number {
    let v: number
    if (inbound === null) v = DROP_NOT_MEMBER
    else if (antiSpoof && !sourceOk(h.src >>> 0)) v = DROP_SPOOF
    else v = check(inbound, h, nowMs)
    ingressCounters[v]++
    return v
  }

  function checkEgress(h: PacketHeader, nowMs: number): number {
    const v = outbound === null ? DROP_NOT_MEMBER : check(outbound, h, nowMs)
    egressCounters[v]++
    return v
  }

  return {
    selfIp,
    peerIp,
    checkIngress,
    checkEgress,
    streamAllowed: () => mayOpenStream(selfIp, peerIp, inbound, outbound, routing),
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
