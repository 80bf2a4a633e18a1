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
