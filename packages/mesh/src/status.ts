/**
 * What the node tells its user: `meshlan status`, `meshlan ping` and the MagicDNS name view, built
 * from the services' state. Read-only; nothing here changes the node.
 */
import type { Connection } from '@libp2p/interface'
import { compareNames, ipToUint32, uint32ToIp } from '@meshlan/wire'
import { PING_INTERVAL_MS, PING_TIMEOUT_MS } from './constants.ts'
import type { IpFamily } from './ip-family.ts'
import type { PeerEntry, PeerTable } from './peer-table.ts'
import type { LinkStats } from './pump.ts'
import { type DirectFailure, type PathDetail, pingConnection } from './reachability/paths.ts'

export interface PeerStatus {
  name: string
  ip: string
  peerId: string
  path: 'direct' | 'relay' | 'none'
  rttMs: number | null
  rxBytes: number
  txBytes: number
  key: string
  /** Bound by the owner (name and address fixed); false while provisional. */
  bound: boolean
  online: boolean
  /** When the path is a relay: the relay's name (or peer id). */
  via: string | null
  /** When not direct: why (symmetric-nat, punch-failed, no-relay, not-tried). */
  why: DirectFailure
  /** When direct: the peer's underlay address (`/ip6/…/tcp/7946`); null otherwise. */
  addr: string | null
  /** The underlay's family (ipv4, ipv6): of the direct connection, or of ours to the relay. */
  family: IpFamily | null
  /** Approved prefixes this peer serves as the primary router. */
  routes: string[]
  /** The peer is an approved exit node. */
  exitNode: boolean
  /** The meshlan version its record says it runs; null for nodes too old to say. */
  version: string | null
  /**
   * When this node last had evidence of the member (ms since the epoch): now while a connection to
   * it answers keepalives, else when its newest record was signed; null when we hold no record.
   */
  lastSeen: number | null
  /**
   * The underlay addresses the member's newest record announces for direct dials (its interface
   * addresses, a mapped port, an observed public address), without relay circuits; empty when we
   * hold no record. What this node would dial, so a failing path can be told from an unknown one.
   */
  endpoints: string[]
}

export interface NodeStatus {
  self: {
    name: string
    ip: string | null
    peerId: string
    network: { id: string; name: string | null; subnet: string | null; owner: string; policyVersion: number }
    key: string | null
    member: boolean
    bound: boolean
    reason: string | null
    /** What we advertise, and what of it the owner approved. */
    routes: { advertised: string[]; approved: string[] }
    /** The exit node we use (its name), or null. */
    exitNode: string | null
    /** Why the configured exit node is not used, or null. */
    exitNodeError: string | null
    /** The meshlan version this node runs (what its record says), or null when not given. */
    version: string | null
  }
  peers: PeerStatus[]
  drops: Record<string, number>
}

export type PingResult =
  | {
      ok: true
      peerId: string
      name: string
      ip: string
      path: 'direct' | 'relay'
      rttMs: number[]
      via: string | null
      why: DirectFailure
      addr: string | null
      family: IpFamily | null
    }
  | { ok: false; code: 'NO_ROUTE' | 'ACL' | 'OFFLINE' | 'NOT_MEMBER'; reason: string; peerId?: string }

/** What the status views read from the node's services. */
export interface StatusSource {
  table: PeerTable
  selfId: string
  path(peerId: string): 'direct' | 'relay' | 'none'
  pathDetail(peerId: string): PathDetail
  rtt(peerId: string): number | null
  online(peerId: string): boolean
  links(): LinkStats[]
  /** The version a peer's record states (null: not given). */
  version(peerId: string): string | null
  /** PeerStatus.lastSeen. @default none (null) */
  lastSeen?(peerId: string): number | null
  /** PeerStatus.endpoints. @default none ([]) */
  endpoints?(peerId: string): string[]
}

/** What the topology knows of a peer's record, as StatusSource reads it. */
export interface RecordView<N extends { record: { version?: string | null; addrs?: string[] } }> {
  get(peerId: string): N | undefined
  isOnline(n: N): boolean
  lastSeen(n: N): number
}

/** StatusSource's per-peer record facts (online, version, last seen) from the topology. */
export function recordFacts<N extends { record: { version?: string | null; addrs?: string[] } }>(
  t: RecordView<N>,
): Pick<StatusSource, 'online' | 'version' | 'lastSeen' | 'endpoints'> {
  return {
    online: (p) => {
      const n = t.get(p)
      return n != null && t.isOnline(n)
    },
    version: (p) => t.get(p)?.record.version ?? null,
    lastSeen: (p) => {
      const n = t.get(p)
      return n == null ? null : t.lastSeen(n)
    },
    endpoints: (p) => t.get(p)?.record.addrs ?? [],
  }
}

export function peerStatuses(src: StatusSource): PeerStatus[] {
  const stats = new Map(src.links().map((s) => [s.peerId, s]))
  return [...src.table.peers.values()]
    .map((p) => {
      const s = stats.get(p.peerId)
      return {
        name: p.name,
        ip: uint32ToIp(p.ip),
        peerId: p.peerId,
        path: src.path(p.peerId),
        rttMs: src.rtt(p.peerId),
        rxBytes: s?.rxBytes ?? 0,
        txBytes: s?.txBytes ?? 0,
        key: p.membership.keyName,
        bound: p.bound,
        online: src.online(p.peerId),
        version: src.version(p.peerId),
        lastSeen: src.lastSeen?.(p.peerId) ?? null,
        endpoints: src.endpoints?.(p.peerId) ?? [],
        ...src.pathDetail(p.peerId),
        routes: p.routes.map((r) => r.cidr),
        exitNode: p.exitNode,
      }
    })
    .sort((a, b) => compareNames(a.name, b.name))
}

/** A member by final name (with or without `.mesh`) or overlay IP. */
export function findPeer(table: PeerTable, target: string): PeerEntry | null {
  const id = table.byName.get(target.replace(/\.mesh$/, ''))
  if (id != null) return table.peers.get(id) ?? null
  const ip = ipToUint32(target)
  if (ip >= 0) for (const p of table.peers.values()) if (p.ip === ip) return p
  return null
}

/** Every final name and address, ours included (for `meshlan dns status`), sorted by name. */
export function nameList(table: PeerTable): Array<{ name: string; ip: string }> {
  const out: Array<{ name: string; ip: string }> = []
  if (table.self != null) out.push({ name: table.self.name, ip: uint32ToIp(table.self.ip) })
  for (const p of table.peers.values()) out.push({ name: p.name, ip: uint32ToIp(p.ip) })
  return out.sort((a, b) => compareNames(a.name, b.name))
}

/** The final name of the member (or us) at an overlay address. */
/** MagicDNS: a member's (or our own) overlay address by final name. */
export function ipOfName(table: PeerTable, name: string): string | null {
  const id = table.byName.get(name)
  if (id == null) return null
  // names are unique: our own final name is us
  const ip = name === table.self?.name ? table.self.ip : table.peers.get(id)?.ip
  return ip == null ? null : uint32ToIp(ip)
}

/** The membership gate's refusals, as drop counters. */
export function gateDrops(c: {
  refusedStreams: number
  refusedHellos: number
  expelled: number
}): Record<string, number> {
  return { NOT_MEMBER_STREAM: c.refusedStreams, HELLO_REFUSED: c.refusedHellos, EXPELLED: c.expelled }
}

export function nameAt(table: PeerTable, ip: string): string | null {
  const n = ipToUint32(ip)
  if (n < 0) return null
  if (table.self != null && n === table.self.ip) return table.self.name
  for (const p of table.peers.values()) if (p.ip === n) return p.name
  return null
}

/** Why our key may not ping `peer` (an ICMP echo request), or null when it may. */
export function pingDenied(table: PeerTable, peer: PeerEntry, keyName: string): string | null {
  const out = table.outbound
  if (out?.allowsIcmpEcho(peer.ip)) return null
  const why =
    out?.explainIcmpEcho(peer.ip) ??
    `key ${keyName} may reach nothing on ${peer.name} (${uint32ToIp(peer.ip)})`
  return `denied by key ${keyName}'s ACL: ${why}`
}

/** What `meshlan status` reads from the node. */
export interface StatusInput extends Omit<StatusSource, 'path' | 'pathDetail'> {
  owner: string
  networkId: string
  name: string
  store: { policy: { name: string; subnet: string } | null; version: number }
  selfKey: string | null
  reason: string | null
  reach: {
    path(p: string): 'direct' | 'relay' | 'none'
    pathDetail(p: string): PathDetail
  }
  drops: Record<string, number>
  selfVersion: string | null
}

export function nodeStatus(s: StatusInput): NodeStatus {
  const policy = s.store.policy
  return {
    self: {
      name: s.name,
      ip: s.table.self == null ? null : uint32ToIp(s.table.self.ip),
      peerId: s.selfId,
      network: {
        id: s.networkId,
        name: policy?.name ?? null,
        subnet: policy?.subnet ?? null,
        owner: s.owner,
        policyVersion: s.store.version,
      },
      key: s.selfKey,
      member: s.selfKey != null,
      bound: s.table.self?.bound ?? false,
      reason: s.reason,
      routes: s.table.self?.routes ?? { advertised: [], approved: [] },
      exitNode: s.table.exit == null ? null : (s.table.peers.get(s.table.exit.peerId)?.name ?? null),
      exitNodeError: s.table.exitError,
      version: s.selfVersion,
    },
    peers: peerStatuses({
      ...s,
      path: (p) => s.reach.path(p),
      pathDetail: (p) => s.reach.pathDetail(p),
    }),
    drops: s.drops,
  }
}

/** What an overlay ping needs of reachability. */
export interface PingPaths {
  best(peerId: string): Connection | undefined
  connect(peerId: string): Promise<Connection>
  path(peerId: string): 'direct' | 'relay' | 'none'
  pathDetail(peerId: string): PathDetail
}

/** `meshlan ping`: which path answered, or why there is none (never a silent timeout). */
export async function pingPeer(
  table: PeerTable,
  paths: PingPaths,
  target: string,
  count: number,
  member: { key: string } | null,
  notMemberReason: string | null,
): Promise<PingResult> {
  const p = findPeer(table, target)
  if (p == null) return { ok: false, code: 'NO_ROUTE', reason: `no member named or addressed ${target}` }
  if (member == null)
    return { ok: false, code: 'NOT_MEMBER', reason: `this node is not a member: ${notMemberReason}` }
  const denied = pingDenied(table, p, member.key)
  if (denied != null) return { ok: false, code: 'ACL', peerId: p.peerId, reason: denied }
  const rtts: number[] = []
  let lastErr = ''
  for (let i = 0; i < count; i++) {
    try {
      rtts.push(
        await pingConnection(paths.best(p.peerId) ?? (await paths.connect(p.peerId)), PING_TIMEOUT_MS),
      )
    } catch (err) {
      lastErr = (err as Error).message
    }
    if (i < count - 1) await new Promise((res) => setTimeout(res, PING_INTERVAL_MS))
  }
  if (rtts.length === 0)
    return { ok: false, code: 'OFFLINE', peerId: p.peerId, reason: `${p.name} is offline: ${lastErr}` }
  return {
    ok: true,
    peerId: p.peerId,
    name: p.name,
    ip: uint32ToIp(p.ip),
    path: paths.path(p.peerId) === 'relay' ? 'relay' : 'direct',
    rttMs: rtts,
    ...paths.pathDetail(p.peerId),
  }
}
