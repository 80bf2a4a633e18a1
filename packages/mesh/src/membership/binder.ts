/**
 * On the owner: binding admitted members into the policy (`members`). A binding fixes a member's
 * name and overlay address for good, so no later member can take them by grinding a peer id or
 * choosing the same name, and `node:NAME` ACL targets resolve through bindings only. A one-use key
 * is claimed by its first bound member (`claimedBy`) and admits no other identity, ever.
 */
import {
  ipToUint32,
  MAX_POLICY_MEMBERS,
  type MemberBinding,
  type Policy,
  parseCidr,
  sanitizeName,
  uint32ToIp,
} from '@meshlan/wire'
import { chooseBinding } from '../addressing.ts'
import type { PolicyChange } from '../network.ts'
import { OWNER_KEY_NAME } from './policy-store.ts'

export interface BindRequest {
  peerId: string
  /** The key the member proved; OWNER_KEY_NAME for the owner itself. */
  key: string
  /** The name the node asked for (its record's name). */
  wanted: string
}

/**
 * The change binding every request that may still be bound now; requests that may not (already
 * bound, revoked, key gone or expired for newcomers, one-use key taken, network full) are skipped,
 * and `skipped` says why for each.
 */
export function bindMembers(
  requests: readonly BindRequest[],
  now: number,
  skipped: (peerId: string, reason: string) => void = () => {},
): PolicyChange {
  return (p: Policy): Policy => {
    const subnet = parseCidr(p.subnet)
    if (!subnet.ok) return p
    const members = [...p.members]
    const keys = p.keys.map((k) => ({ ...k }))
    const names = new Set(members.map((m) => m.name))
    const ips = new Set(members.map((m) => ipToUint32(m.ip)))
    for (const r of requests) {
      if (members.some((m) => m.peerId === r.peerId)) continue
      if (p.revokedNodes.some((n) => n.peerId === r.peerId)) {
        skipped(r.peerId, 'node is revoked')
        continue
      }
      if (members.length >= MAX_POLICY_MEMBERS) {
        skipped(r.peerId, `the network has ${MAX_POLICY_MEMBERS} bound members`)
        continue
      }
      const key = keys.find((k) => k.name === r.key)
      if (r.key !== OWNER_KEY_NAME) {
        if (key == null) {
          skipped(r.peerId, `key ${r.key} is not in the policy`)
          continue
        }
        if (key.expiresAt != null && key.expiresAt <= now) {
          skipped(r.peerId, `key ${r.key} no longer admits new nodes`)
          continue
        }
        const held = members.filter((m) => m.key === r.key).length
        if (key.maxMembers != null && held >= key.maxMembers) {
          skipped(r.peerId, `key ${r.key} already has its ${key.maxMembers} members (--max-members)`)
          continue
        }
        if (!key.reusable) {
          if (key.claimedBy != null && key.claimedBy !== r.peerId) {
            skipped(r.peerId, `one-use key ${r.key} was already used`)
            continue
          }
          key.claimedBy = r.peerId
        }
      }
      const chosen = chooseBinding(
        p.networkId,
        { base: subnet.base, prefix: subnet.prefix },
        r.peerId,
        sanitizeName(r.wanted),
        names,
        ips,
      )
      if (chosen == null) {
        skipped(r.peerId, 'the subnet is full')
        continue
      }
      const binding: MemberBinding = {
        peerId: r.peerId,
        key: r.key,
        name: chosen.name,
        ip: uint32ToIp(chosen.ip),
        boundAt: now,
      }
      members.push(binding)
      names.add(binding.name)
      ips.add(chosen.ip)
    }
    return { ...p, keys, members }
  }
}

/**
 * A restored owner key (`meshlan network restore`) makes `peerId` the owner's node: it is bound
 * under the reserved key name `owner` (its existing binding keeps its name and address; an unbound
 * node gets new ones), and every other node bound under `owner` is revoked — the old owner's box
 * was lost or is presumed stolen, and two owner's nodes holding one signing key could each sign a
 * version N and fork the chain. One version for all of it, so no node ever sees two owner's nodes.
 */
export function moveOwnerNode(peerId: string, wanted: string, now: number): PolicyChange {
  return (p: Policy): Policy => {
    const old = p.members.filter((m) => m.key === OWNER_KEY_NAME && m.peerId !== peerId).map((m) => m.peerId)
    const oldSet = new Set(old)
    const revokedNodes = [
      ...p.revokedNodes.filter((n) => !oldSet.has(n.peerId)),
      ...old.map((id) => ({ peerId: id, revokedAt: now })),
    ]
    const q: Policy = {
      ...p,
      members: p.members
        .filter((m) => !oldSet.has(m.peerId))
        .map((m) => (m.peerId === peerId ? { ...m, key: OWNER_KEY_NAME } : m)),
      routes: p.routes.filter((r) => !oldSet.has(r.peerId)),
      revokedNodes,
    }
    if (q.members.some((m) => m.peerId === peerId)) return q
    return bindMembers([{ peerId, key: OWNER_KEY_NAME, wanted }], now)(q)
  }
}
