/**
 * The peer table: what the policy and the member records mean for this node — everybody's overlay
 * address and name, and the compiled ACLs that decide what may flow. A pure function of
 * (policy, members, self): no I/O, no timers, so it is tested directly and the tunnel applies the
 * result. Names and addresses come from the owner's bindings where they exist (addressing.ts).
 */
import { cidrContains, ipToUint32, type Policy, parseCidr, sanitizeName, uint32ToIp } from '@meshlan/wire'
import { type CompiledAcl, compileAcl, denyAllAcl, mayOpenStream, validateAcl } from './acl/index.ts'
import { assignIdentities } from './addressing.ts'
import type { Membership } from './membership/policy-store.ts'
import { approvedOffer, choosePrimaries, type Offer, type RoutePrefix } from './routing/select.ts'

export type { RoutePrefix } from './routing/select.ts'

/** A node's route and exit offer, as its record carries it. */
export interface Advertised {
  routes: readonly string[]
  exitNode: boolean
}

const NOTHING: Advertised = { routes: [], exitNode: false }

export interface PeerTableInput {
  networkId: string
  policy: Policy
  selfId: string
  /** The name this node asked for (config). */
  selfWanted: string
  /** Our own membership; null when we are not (or no longer) a member. */
  selfMembership: Membership | null
  members: ReadonlyArray<{ peerId: string; wanted: string; membership: Membership; advertised?: Advertised }>
  /** Peers with a live connection (the node decides); primaries are chosen among these first. */
  live?: ReadonlySet<string>
  /** Install the routes other nodes serve (`--accept-routes`). @default false */
  acceptRoutes?: boolean
  /** The exit node to use, by final name or overlay address; null = none. @default null */
  exitNode?: string | null
  /** What this node itself advertises. @default nothing */
  selfAdvertised?: Advertised
  /** This node's underlay addresses: a route containing one would loop the tunnel into itself. */
  underlayIps?: readonly number[]
}

export interface PeerEntry {
  peerId: string
  ip: number
  name: string
  bound: boolean
  membership: Membership
  /** What the peer's key may reach (compiled for this table's addresses). */
  inbound: CompiledAcl
  /** Whether a tunnel between us has any purpose: either side's ACL reaches the other. */
  allowed: boolean
  /** Approved ∩ advertised prefixes this peer serves as the primary (what is routed to it). */
  routes: RoutePrefix[]
  /** Every approved ∩ advertised prefix of the peer, primary or not (anti-spoofing, status). */
  allRoutes: RoutePrefix[]
  /** The peer is an approved exit node (approved ∩ advertised). */
  exitNode: boolean
}

export interface PeerTable {
  self: {
    ip: number
    counter: number
    name: string
    bound: boolean
    /** Our offer: what we advertise, and what of it the owner approved. */
    routes: { advertised: string[]; approved: string[] }
    /** We are an approved exit node. */
    exitNode: boolean
  } | null
  /** What our key may reach; null when we are not a member. */
  outbound: CompiledAcl | null
  peers: Map<string, PeerEntry>
  /** Final name → peer id (ours included). */
  byName: Map<string, string>
  /** Keys whose ACL failed validation (they deny everything). */
  invalidAcls: string[]
  /** Routes this node installs (only with acceptRoutes): primaries, none containing our underlay. */
  acceptedRoutes: Array<{ cidr: string; peerId: string }>
  /** The exit node this node uses (configured, advertised, approved). */
  exit: { peerId: string } | null
  /** Why the configured exit node is not used; null when none is configured or it is. */
  exitError: string | null
}

/** The table of a node that knows nothing yet. */
export function emptyPeerTable(): PeerTable {
  return {
    self: null,
    outbound: null,
    peers: new Map(),
    byName: new Map(),
    invalidAcls: [],
    acceptedRoutes: [],
    exit: null,
    exitError: null,
  }
}

export function computePeerTable(input: PeerTableInput): PeerTable {
  const { policy } = input
  const subnet = parseCidr(policy.subnet)
  if (!subnet.ok) return emptyPeerTable()
  const ids = assignIdentities(
    input.networkId,
    { base: subnet.base, prefix: subnet.prefix },
    policy.members,
    [
      { peerId: input.selfId, wanted: sanitizeName(input.selfWanted) },
      ...input.members.map((m) => ({ peerId: m.peerId, wanted: sanitizeName(m.wanted) })),
    ],
    ipToUint32,
  )
  const byName = new Map<string, string>()
  // `node:NAME` targets resolve through the owner's bindings only: an unbound node matches none
  const boundIps = new Map<string, number>()
  for (const [peerId, id] of ids) {
    byName.set(id.name, peerId)
    if (id.bound) boundIps.set(id.name, id.ip)
  }
  const tagIps = new Map<string, number[]>()
  const addTags = (m: Membership | null, ip: number | undefined): void => {
    if (m == null || ip == null) return
    for (const t of m.tags) {
      const list = tagIps.get(t) ?? []
      list.push(ip)
      tagIps.set(t, list)
    }
  }
  addTags(input.selfMembership, ids.get(input.selfId)?.ip)
  for (const m of input.members) addTags(m.membership, ids.get(m.peerId)?.ip)

  const compiled = new Map<string, CompiledAcl>()
  const invalidAcls: string[] = []
  const compileFor = (mem: Membership): CompiledAcl => {
    let c = compiled.get(mem.keyName)
    if (c == null) {
      const v = validateAcl(mem.acl)
      if (!v.ok) invalidAcls.push(mem.keyName)
      c = compileAcl(v.ok ? v.acl : denyAllAcl(), {
        keyName: mem.keyName,
        nodeIp: (name) => boundIps.get(name),
        tagIps: (tag) => tagIps.get(tag) ?? [],
      })
      compiled.set(mem.keyName, c)
    }
    return c
  }
  const selfId = ids.get(input.selfId)
  const outbound = input.selfMembership != null ? compileFor(input.selfMembership) : null
  const offers = new Map<string, Offer>()
  for (const m of input.members) {
    if (ids.has(m.peerId))
      offers.set(m.peerId, approvedOffer(policy, m.peerId, m.advertised ?? NOTHING, subnet))
  }
  const primaries = choosePrimaries(offers, input.live ?? new Set())
  const peers = new Map<string, PeerEntry>()
  for (const m of input.members) {
    const id = ids.get(m.peerId)
    const offer = offers.get(m.peerId)
    if (id == null || offer == null) continue // subnet full
    const inbound = compileFor(m.membership)
    const allowed = selfId != null && outbound != null && mayOpenStream(selfId.ip, id.ip, inbound, outbound)
    peers.set(m.peerId, {
      peerId: m.peerId,
      ip: id.ip,
      name: id.name,
      bound: id.bound,
      membership: m.membership,
      inbound,
      allowed,
      routes: offer.routes.filter((r) => primaries.get(r.cidr) === m.peerId),
      allRoutes: offer.routes,
      exitNode: offer.exitNode,
    })
  }
  const selfAdvertised = input.selfAdvertised ?? NOTHING
  const selfOffer = approvedOffer(policy, input.selfId, selfAdvertised, subnet)
  const underlay = input.underlayIps ?? []
  const acceptedRoutes: PeerTable['acceptedRoutes'] = []
  if (input.acceptRoutes === true) {
    const ours = new Set(selfOffer.routes.map((r) => r.cidr))
    for (const p of peers.values()) {
      for (const r of p.routes) {
        // a LAN we serve ourselves, or one holding our underlay address, would loop into the tunnel
        const mask = r.prefix === 0 ? 0 : (0xffffffff << (32 - r.prefix)) >>> 0
        if (ours.has(r.cidr) || underlay.some((ip) => cidrContains({ base: r.base, mask }, ip))) continue
        acceptedRoutes.push({ cidr: r.cidr, peerId: p.peerId })
      }
    }
    acceptedRoutes.sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0))
  }
  const exitState = (peerId: string) => ({
    advertised: input.members.find((m) => m.peerId === peerId)?.advertised?.exitNode === true,
    approved: policy.routes.some((r) => r.peerId === peerId && r.route === 'exit'),
  })
  const { exit, exitError } = chooseExit(
    input.exitNode ?? null,
    input.selfId,
    selfId?.ip,
    byName,
    peers,
    exitState,
  )
  return {
    self:
      selfId == null
        ? null
        : {
            ip: selfId.ip,
            counter: selfId.counter,
            name: selfId.name,
            bound: selfId.bound,
            routes: {
              advertised: [...selfAdvertised.routes],
              approved: selfOffer.routes.map((r) => r.cidr),
            },
            exitNode: selfOffer.exitNode,
          },
    outbound,
    peers,
    byName,
    invalidAcls,
    acceptedRoutes,
    exit,
    exitError,
  }
}

/** The configured exit node (final name or overlay address) if usable, or why not. */
function chooseExit(
  wanted: string | null,
  selfId: string,
  selfIp: number | undefined,
  byName: ReadonlyMap<string, string>,
  peers: ReadonlyMap<string, PeerEntry>,
  state: (peerId: string) => { advertised: boolean; approved: boolean },
): Pick<PeerTable, 'exit' | 'exitError'> {
  if (wanted == null || wanted === '') return { exit: null, exitError: null }
  const ip = ipToUint32(wanted)
  const peerId =
    ip >= 0
      ? ip === selfIp
        ? selfId
        : [...peers.values()].find((p) => p.ip === ip)?.peerId
      : byName.get(wanted)
  const no = (why: string) => ({ exit: null, exitError: `exit node ${wanted}: ${why}` })
  if (peerId == null) return no('no member has that name or address (see `meshlan status`)')
  if (peerId === selfId) return no('is this node itself; choose another node')
  const p = peers.get(peerId)
  if (p == null) return no('is not a member we know yet')
  if (!p.exitNode) {
    const { advertised, approved } = state(peerId)
    const who = `${p.name} (${uint32ToIp(p.ip)})`
    if (!advertised) return no(`${who} does not offer to be an exit node: run it with --advertise-exit-node`)
    if (!approved) {
      return no(
        `${who} is not an approved exit node: the owner runs \`meshlan route approve ${p.name} exit\``,
      )
    }
    return no(`${who} is not usable as an exit node`)
  }
  return { exit: { peerId }, exitError: null }
}
