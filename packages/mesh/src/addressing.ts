/**
 * Overlay addresses from identity, with no coordinator.
 *
 * A node's candidate address for counter c is
 *   base + 1 + (u32be(sha256("meshlan-addr/v1|" + networkId + "|" + peerId + "|" + c)[0..4]) mod (size - 2))
 * i.e. any host address of the subnet but its network and broadcast addresses.
 *
 * Collisions: every node runs the same greedy assignment over the members it knows, in ascending
 * peer-id order (plain string comparison); each takes its lowest counter whose candidate is not
 * already taken. So of two colliding nodes the larger peer id bumps its counter, and every node
 * that knows the same member set computes the same map. A node's address only changes when a
 * member with a smaller id that collides with it appears.
 */
import { createHash } from 'node:crypto'

export interface Assignment {
  ip: number
  counter: number
}

export interface SubnetInfo {
  base: number
  prefix: number
}

/** Number of assignable host addresses in the subnet. */
export function usableHosts(prefix: number): number {
  if (prefix >= 31) return 0
  return 2 ** (32 - prefix) - 2
}

export function candidateAddress(
  networkId: string,
  peerId: string,
  counter: number,
  subnet: SubnetInfo,
): number {
  const usable = usableHosts(subnet.prefix)
  if (usable <= 0) throw new RangeError(`subnet /${subnet.prefix} has no host addresses`)
  const h = createHash('sha256').update(`meshlan-addr/v1|${networkId}|${peerId}|${counter}`).digest()
  const n = h.readUInt32BE(0)
  return (subnet.base + 1 + (n % usable)) >>> 0
}

/**
 * The deterministic address map for a member set. `reserved` addresses (e.g. subnet-router
 * gateways) are never handed out.
 */
export function assignAddresses(
  networkId: string,
  subnet: SubnetInfo,
  peerIds: Iterable<string>,
  reserved: Iterable<number> = [],
): Map<string, Assignment> {
  const sorted = [...new Set(peerIds)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const usable = usableHosts(subnet.prefix)
  const taken = new Set<number>(reserved)
  const out = new Map<string, Assignment>()
  for (const peerId of sorted) {
    if (taken.size >= usable) break // subnet full: the rest get no address
    for (let counter = 0; ; counter++) {
      const ip = candidateAddress(networkId, peerId, counter, subnet)
      if (!taken.has(ip)) {
        taken.add(ip)
        out.set(peerId, { ip, counter })
        break
      }
    }
  }
  return out
}

/** What a node is called and where it is, once the owner's bindings are applied. */
export interface Identity {
  ip: number
  /** The address rule's counter (0 for bound members: the owner chose the address). */
  counter: number
  name: string
  bound: boolean
}

/**
 * Names and addresses for a member set. A bound member (the owner's binding in the policy) has
 * exactly its bound name and address, and nobody else can take either. An unbound member gets the
 * address rule's result with every bound address reserved, and the name `<wanted>-<6 chars of its
 * peer id>` so it can never pose as a bound name; it matches no `node:NAME` ACL rule until bound.
 */
export function assignIdentities(
  networkId: string,
  subnet: SubnetInfo,
  bindings: ReadonlyArray<{ peerId: string; name: string; ip: string }>,
  members: ReadonlyArray<{ peerId: string; wanted: string }>,
  ipToUint32: (ip: string) => number,
): Map<string, Identity> {
  const out = new Map<string, Identity>()
  const boundIps: number[] = []
  for (const b of bindings) {
    const ip = ipToUint32(b.ip)
    if (ip < 0) continue
    boundIps.push(ip)
    out.set(b.peerId, { ip, counter: 0, name: b.name, bound: true })
  }
  const unbound = members.filter((m) => !out.has(m.peerId))
  const provisional = assignAddresses(
    networkId,
    subnet,
    unbound.map((m) => m.peerId),
    boundIps,
  )
  for (const m of unbound) {
    const a = provisional.get(m.peerId)
    if (a == null) continue
    out.set(m.peerId, {
      ip: a.ip,
      counter: a.counter,
      name: provisionalName(m.wanted, m.peerId),
      bound: false,
    })
  }
  return out
}

/** `<wanted>-<last 6 chars of the peer id>`: unique per identity, never a bound name's form alone. */
export function provisionalName(wanted: string, peerId: string): string {
  const suffix = peerId
    .slice(-6)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0')
  return `${wanted.slice(0, 63 - 7)}-${suffix}`
}

/** The owner's choice for a newly bound member: its wanted name (or `-2`, `-3`…) and a free address. */
export function chooseBinding(
  networkId: string,
  subnet: SubnetInfo,
  peerId: string,
  wanted: string,
  takenNames: ReadonlySet<string>,
  takenIps: ReadonlySet<number>,
): { name: string; ip: number } | null {
  let name = wanted
  for (let i = 2; takenNames.has(name); i++) name = `${wanted.slice(0, 63 - String(i).length - 1)}-${i}`
  if (takenIps.size >= usableHosts(subnet.prefix)) return null
  for (let counter = 0; ; counter++) {
    const ip = candidateAddress(networkId, peerId, counter, subnet)
    if (!takenIps.has(ip)) return { name, ip }
  }
}
