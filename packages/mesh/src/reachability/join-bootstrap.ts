/**
 * Which addresses a join string carries, so a newcomer can join while the owner is offline: any
 * member holding the policy admits a newcomer with a reusable key (docs/protocol.md §2), so the
 * string lists several members that are reachable from anywhere — member relays first (a dial-back
 * proved them reachable from outside), then the issuing node, then other members with public
 * addresses. Join strings get pasted into chats and tickets, so they leak as little as they can:
 * other members' LAN addresses never (useless outside their home anyway); the issuing node's own
 * LAN addresses last (a newcomer in the same house, behind a router that does not hairpin, has no
 * other way in), and loopback last of all (a newcomer on the same host).
 */
import { parseBootstrapAddr } from '@meshlan/wire'
import { isLanIp } from './candidates.ts'
import { JOIN_ADDRS_PER_MEMBER, JOIN_MAX_ADDRS, JOIN_MAX_RELAYS } from './constants.ts'

export interface BootstrapMember {
  peerId: string
  /** The member's announced direct addresses (its record's `addrs`). */
  addrs: readonly string[]
  /** Its record says it relays for members. */
  relay: boolean
  online: boolean
}

const IP = /^\/ip[46]\/([^/]+)\//

function scope(addr: string): 'public' | 'lan' | 'loopback' {
  const ip = IP.exec(addr)?.[1]
  if (ip == null) return 'public' // a /dns name: the operator chose to announce it
  if (ip.startsWith('127.') || ip === '::1') return 'loopback'
  return isLanIp(ip) || /^f[cde]/i.test(ip) ? 'lan' : 'public'
}

/** `addr` with `/p2p/<peerId>`, or null when a join string could not carry it (a circuit, a bad address). */
function dialable(addr: string, peerId: string): string | null {
  const full = addr.includes('/p2p/') ? addr : `${addr}/p2p/${peerId}`
  const r = parseBootstrapAddr(full)
  return r.ok && r.value.peerId === peerId ? full : null
}

/**
 * The bootstrap list of a new join string, best first, at most JOIN_MAX_ADDRS: up to
 * JOIN_MAX_RELAYS online member relays, the issuing node's public addresses, other online members'
 * public addresses, then the issuing node's LAN and loopback addresses. At most
 * JOIN_ADDRS_PER_MEMBER addresses per other member.
 */
export function joinBootstrap(
  self: { peerId: string; addrs: readonly string[] },
  members: readonly BootstrapMember[],
): string[] {
  const out: string[] = []
  const add = (addr: string | null) => {
    if (addr != null && !out.includes(addr) && out.length < JOIN_MAX_ADDRS) out.push(addr)
  }
  const publicOf = (m: { peerId: string; addrs: readonly string[] }, n: number) =>
    m.addrs
      .filter((a) => scope(a) === 'public')
      .map((a) => dialable(a, m.peerId))
      .filter((a) => a != null)
      .slice(0, n)
  const others = members.filter((m) => m.online && m.peerId !== self.peerId)
  for (const m of others.filter((x) => x.relay).slice(0, JOIN_MAX_RELAYS))
    for (const a of publicOf(m, JOIN_ADDRS_PER_MEMBER)) add(a)
  for (const a of publicOf(self, JOIN_MAX_ADDRS)) add(a)
  for (const m of others.filter((x) => !x.relay)) for (const a of publicOf(m, JOIN_ADDRS_PER_MEMBER)) add(a)
  for (const s of ['lan', 'loopback'] as const)
    for (const a of self.addrs) if (scope(a) === s) add(dialable(a, self.peerId))
  return out
}
