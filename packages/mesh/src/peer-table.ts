/**
 * The peer table: what the policy and the member records mean for this node — everybody's overlay
 * address and name, and the compiled ACLs that decide what may flow. A pure function of
 * (policy, members, self): no I/O, no timers, so it is tested directly and the tunnel applies the
 * result. Names and addresses come from the owner's bindings where they exist (addressing.ts).
 */
import { ipToUint32, type Policy, parseCidr, sanitizeName } from '@meshlan/wire'
import { type CompiledAcl, compileAcl, denyAllAcl, mayOpenStream, validateAcl } from './acl/index.ts'
import { assignIdentities } from './addressing.ts'
import type { Membership } from './membership/policy-store.ts'

export interface PeerTableInput {
  networkId: string
  policy: Policy
  selfId: string
  /** The name this node asked for (config). */
  selfWanted: string
  /** Our own membership; null when we are not (or no longer) a member. */
  selfMembership: Membership | null
  members: ReadonlyArray<{ peerId: string; wanted: string; membership: Membership }>
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
}

export interface PeerTable {
  self: { ip: number; counter: number; name: string; bound: boolean } | null
  /** What our key may reach; null when we are not a member. */
  outbound: CompiledAcl | null
  peers: Map<string, PeerEntry>
  /** Final name → peer id (ours included). */
  byName: Map<string, string>
  /** Keys whose ACL failed validation (they deny everything). */
  invalidAcls: string[]
}

/** The table of a node that knows nothing yet. */
export function emptyPeerTable(): PeerTable {
  return { self: null, outbound: null, peers: new Map(), byName: new Map(), invalidAcls: [] }
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
  const peers = new Map<string, PeerEntry>()
  for (const m of input.members) {
    const id = ids.get(m.peerId)
    if (id == null) continue // subnet full
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
    })
  }
  return {
    self:
      selfId == null
        ? null
        : { ip: selfId.ip, counter: selfId.counter, name: selfId.name, bound: selfId.bound },
    outbound,
    peers,
    byName,
    invalidAcls,
  }
}
