/**
 * Connection tracking: remembers flows we accepted so their replies pass even when the ACL would not
 * allow them as new connections.
 *
 * An open-addressing hash table (linear probing, backward-shift deletion, no tombstones) in typed arrays
 * preallocated at creation: `track()` and `isReply()` allocate nothing. The table has twice as many
 * slots as `capacity` (rounded up to a power of two), so probes stay short. A doubly linked list through
 * the slots (two Int32Arrays) keeps entries in least-recently-seen order, so a full table evicts the
 * oldest entry in O(1). Entries expire lazily when a lookup meets them, when an insert can reuse their
 * slot, on `sweep()`, and when the table is full and the oldest entry has expired.
 */
import {
  DEFAULT_CONNTRACK_CAPACITY,
  DEFAULT_CONNTRACK_ICMP_TTL_MS,
  DEFAULT_CONNTRACK_TCP_TTL_MS,
  DEFAULT_CONNTRACK_UDP_TTL_MS,
  PROTO_ICMP,
  PROTO_TCP,
} from './constants.ts'
import { InvalidConntrackOptionError } from './errors.ts'

/** Idle timeouts per protocol, in milliseconds. Protocols other than TCP and ICMP use `udp`. */
export interface ConntrackTtls {
  /** @default 720000 */
  tcp: number
  /** @default 180000 */
  udp: number
  /** @default 30000 */
  icmp: number
}

export interface ConntrackInit {
  /**
   * Most flows held at once.
   * @default 65536
   */
  capacity?: number
  /** Idle timeouts; missing ones take their defaults. */
  ttlMs?: Partial<ConntrackTtls>
}

/**
 * A flow table keyed by the 5-tuple (proto, srcIp, dstIp, srcPort, dstPort). Addresses are uint32,
 * ports 0–65535 (for ICMP echo pass the echo identifier as both ports), times in milliseconds.
 */
export interface Conntrack {
  /** Records (or refreshes) a flow we accepted. */
  track(proto: number, src: number, dst: number, sport: number, dport: number, nowMs: number): void
  /**
   * True when the reverse flow (dst→src, dport→sport) is tracked and not expired; refreshes it then.
   * An expired entry met here is removed.
   */
  isReply(proto: number, src: number, dst: number, sport: number, dport: number, nowMs: number): boolean
  /** True when exactly this flow is tracked and not expired (does not refresh). */
  has(proto: number, src: number, dst: number, sport: number, dport: number, nowMs: number): boolean
  /** Removes every expired entry; returns how many. */
  sweep(nowMs: number): number
  /** Forgets every flow (counters other than `entries` keep counting). */
  clear(): void
  /** Flows held now (some may be expired but not yet removed). */
  readonly entries: number
  /** Live flows removed to make room for new ones. */
  readonly evictions: number
  /** Expired flows removed (by lookups, inserts, sweeps and full-table eviction). */
  readonly expired: number
  /** Most flows held at once. */
  readonly capacity: number
}

const MAX_CAPACITY = 1 << 24

function checkPositive(name: string, v: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > max) {
    throw new InvalidConntrackOptionError(
      `conntrack ${name} must be a number from 1 to ${max}, got ${String(v)}`,
    )
  }
  return v
}

/** Creates an empty conntrack table; all memory is allocated here. */
export function createConntrack(init: ConntrackInit = {}): Conntrack {
  const capacity = Math.floor(
    checkPositive('capacity', init.capacity ?? DEFAULT_CONNTRACK_CAPACITY, MAX_CAPACITY),
  )
  const ttlTcp = checkPositive('ttlMs.tcp', init.ttlMs?.tcp ?? DEFAULT_CONNTRACK_TCP_TTL_MS, 2 ** 52)
  const ttlUdp = checkPositive('ttlMs.udp', init.ttlMs?.udp ?? DEFAULT_CONNTRACK_UDP_TTL_MS, 2 ** 52)
  const ttlIcmp = checkPositive('ttlMs.icmp', init.ttlMs?.icmp ?? DEFAULT_CONNTRACK_ICMP_TTL_MS, 2 ** 52)
  let size = 8
  while (size < capacity * 2) size *= 2
  const mask = size - 1

  const used = new Uint8Array(size)
  const protoA = new Uint8Array(size)
  const srcA = new Uint32Array(size)
  const dstA = new Uint32Array(size)
  /** (sport << 16 | dport) as uint32 */
  const portsA = new Uint32Array(size)
  const hashA = new Uint32Array(size)
  const seenA = new Float64Array(size)
  /** least-recently-seen order: head is the oldest entry */
  const prevA = new Int32Array(size)
  const nextA = new Int32Array(size)
  let head = -1
  let tail = -1

  const seedBuf = new Uint32Array(1)
  globalThis.crypto.getRandomValues(seedBuf)
  const seed = seedBuf[0]

  let entries = 0
  let evictions = 0
  let expired = 0

  function ttlOf(proto: number): number {
    return proto === PROTO_TCP ? ttlTcp : proto === PROTO_ICMP ? ttlIcmp : ttlUdp
  }

  function isExpired(i: number, nowMs: number): boolean {
    return nowMs - seenA[i] >= ttlOf(protoA[i])
  }

  function mix(h: number, v: number): number {
    h = Math.imul(h ^ v, 0x9e3779b1)
    return (h ^ (h >>> 15)) >>> 0
  }

  function hash(proto: number, src: number, dst: number, ports: number): number {
    let h = mix(seed ^ proto, src)
    h = mix(h, dst)
    h = mix(h, ports)
    h ^= h >>> 16
    h = Math.imul(h, 0x85ebca6b)
    h ^= h >>> 13
    return h >>> 0
  }

  /** Slot of the flow, or -1. Removes the entry and returns -1 if it has expired. */
  /** The slot holding this flow, expired or not, or -1. */
  function slotOf(proto: number, src: number, dst: number, ports: number, h: number): number {
    let i = h & mask
    while (used[i] === 1) {
      if (
        hashA[i] === h &&
        srcA[i] === src &&
        dstA[i] === dst &&
        portsA[i] === ports &&
        protoA[i] === proto
      ) {
        return i
      }
      i = (i + 1) & mask
    }
    return -1
  }

  /** The slot holding this live flow, or -1 (an expired one is removed on the way). */
  function find(proto: number, src: number, dst: number, ports: number, h: number, nowMs: number): number {
    const i = slotOf(proto, src, dst, ports, h)
    if (i >= 0 && isExpired(i, nowMs)) {
      remove(i)
      expired++
      return -1
    }
    return i
  }

  /** Backward-shift deletion: pulls later members of the probe run into the hole. */
  function remove(hole: number): void {
    unlink(hole)
    let i = hole
    let j = hole
    for (;;) {
      j = (j + 1) & mask
      if (used[j] === 0) break
      const home = hashA[j] & mask
      // leave j where it is if its home lies cyclically in (i, j]
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue
      used[i] = 1
      protoA[i] = protoA[j]
      srcA[i] = srcA[j]
      dstA[i] = dstA[j]
      portsA[i] = portsA[j]
      hashA[i] = hashA[j]
      seenA[i] = seenA[j]
      const p = prevA[j]
      const n = nextA[j]
      prevA[i] = p
      nextA[i] = n
      if (p >= 0) nextA[p] = i
      else head = i
      if (n >= 0) prevA[n] = i
      else tail = i
      i = j
    }
    used[i] = 0
    entries--
  }

  function unlink(i: number): void {
    const p = prevA[i]
    const n = nextA[i]
    if (p >= 0) nextA[p] = n
    else head = n
    if (n >= 0) prevA[n] = p
    else tail = p
  }

  function linkTail(i: number): void {
    prevA[i] = tail
    nextA[i] = -1
    if (tail >= 0) nextA[tail] = i
    else head = i
    tail = i
  }

  /** Marks slot i as seen now: moves it to the young end of the list. */
  function touch(i: number, nowMs: number): void {
    seenA[i] = nowMs
    if (i !== tail) {
      unlink(i)
      linkTail(i)
    }
  }

  /** Frees one slot when full: the least recently seen entry (counted as expired or evicted). */
  function evictOldest(nowMs: number): void {
    const victim = head
    if (isExpired(victim, nowMs)) expired++
    else evictions++
    remove(victim)
  }

  function track(proto: number, src: number, dst: number, sport: number, dport: number, nowMs: number): void {
    const s = src >>> 0
    const d = dst >>> 0
    const ports = (((sport & 0xffff) << 16) | (dport & 0xffff)) >>> 0
    const p = proto & 0xff
    const h = hash(p, s, d, ports)
    for (;;) {
      let i = h & mask
      let reuse = -1
      while (used[i] === 1) {
        if (hashA[i] === h && srcA[i] === s && dstA[i] === d && portsA[i] === ports && protoA[i] === p) {
          touch(i, nowMs)
          return
        }
        if (reuse < 0 && isExpired(i, nowMs)) reuse = i
        i = (i + 1) & mask
      }
      if (reuse >= 0) {
        // an expired entry on our probe run: overwrite it in place (the run stays intact)
        expired++
        i = reuse
        unlink(i)
      } else if (entries >= capacity) {
        evictOldest(nowMs)
        continue // the run may have shifted: probe again
      } else {
        entries++
      }
      used[i] = 1
      protoA[i] = p
      srcA[i] = s
      dstA[i] = d
      portsA[i] = ports
      hashA[i] = h
      seenA[i] = nowMs
      linkTail(i)
      return
    }
  }

  function isReply(
    proto: number,
    src: number,
    dst: number,
    sport: number,
    dport: number,
    nowMs: number,
  ): boolean {
    const s = dst >>> 0
    const d = src >>> 0
    const ports = (((dport & 0xffff) << 16) | (sport & 0xffff)) >>> 0
    const p = proto & 0xff
    const i = find(p, s, d, ports, hash(p, s, d, ports), nowMs)
    if (i < 0) return false
    touch(i, nowMs)
    return true
  }

  function has(
    proto: number,
    src: number,
    dst: number,
    sport: number,
    dport: number,
    nowMs: number,
  ): boolean {
    const s = src >>> 0
    const d = dst >>> 0
    const ports = (((sport & 0xffff) << 16) | (dport & 0xffff)) >>> 0
    const p = proto & 0xff
    const i = slotOf(p, s, d, ports, hash(p, s, d, ports))
    return i >= 0 && !isExpired(i, nowMs)
  }

  function sweep(nowMs: number): number {
    let removed = 0
    let i = 0
    while (i < size) {
      if (used[i] === 1 && isExpired(i, nowMs)) {
        remove(i)
        removed++
        continue // another entry may have shifted into slot i
      }
      i++
    }
    expired += removed
    return removed
  }

  function clear(): void {
    used.fill(0)
    entries = 0
    head = -1
    tail = -1
  }

  return {
    track,
    isReply,
    has,
    sweep,
    clear,
    get entries() {
      return entries
    },
    get evictions() {
      return evictions
    },
    get expired() {
      return expired
    },
    capacity,
  }
}
