/**
 * Connection tracking: remembers flows we accepted so their replies pass even when the ACL would not
 * allow them as new connections, and so ICMP errors about them can be told from forged ones.
 *
 * Every entry belongs to one peer (its `owner`, the peer's overlay address) and the owner is part of
 * the key: a peer's packets only ever match flows of that peer. Each peer holds a bounded share
 * (`perPeerCapacity`): a new flow of a peer at its cap evicts that peer's own least recently seen
 * flow, so a member opening flows as fast as it can only churns its own share. When the whole table
 * is full, the new flow takes the slot of an expired share head if there is one, else of the oldest
 * flow of the peer holding the most flows; a peer holding n flows loses one only to a table where
 * every peer holds at most n.
 *
 * An open-addressing hash table (linear probing, backward-shift deletion, no tombstones) in typed arrays
 * preallocated at creation: `track()`, `isReply()`, `has()` and `relates()` allocate nothing (a
 * peer's first flow adds it to a Map once). The table has twice as many slots as `capacity` (rounded
 * up to a power of two), so probes stay short. One doubly linked list per peer through the slots
 * keeps that peer's entries in least-recently-seen order. Entries expire lazily when a lookup meets
 * them, when an insert can reuse their slot, on `sweep()`, and when eviction finds them.
 */
import type { PacketHeader } from '@meshlan/wire'
import {
  DEFAULT_CONNTRACK_CAPACITY,
  DEFAULT_CONNTRACK_ICMP_TTL_MS,
  DEFAULT_CONNTRACK_PEER_CAPACITY,
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
   * Most flows held at once, all peers together.
   * @default 65536
   */
  capacity?: number
  /**
   * Most flows one peer holds; at most `capacity`.
   * @default 4096
   */
  perPeerCapacity?: number
  /** Idle timeouts; missing ones take their defaults. */
  ttlMs?: Partial<ConntrackTtls>
}

/**
 * A flow table keyed by (owner, proto, src, dst, sport, dport), read from a parsed PacketHeader
 * (for ICMP echo the header carries the echo identifier as both ports). `owner` is the overlay
 * address (uint32) of the peer the flow is with; times are in milliseconds.
 */
export interface Conntrack {
  /** Records (or refreshes) the packet's flow for `owner`, evicting within the rules above if full. */
  track(owner: number, h: PacketHeader, nowMs: number): void
  /**
   * True when the packet answers a live flow of `owner` (the reverse flow, dst→src, is tracked);
   * refreshes that flow. An expired entry met here is removed.
   */
  isReply(owner: number, h: PacketHeader, nowMs: number): boolean
  /** True when exactly the packet's flow is tracked for `owner` and live (does not refresh). */
  has(owner: number, h: PacketHeader, nowMs: number): boolean
  /**
   * For an ICMP error: true when the packet it embeds (`h.inner*`) belongs to a live flow of
   * `owner`, in either direction. Does not refresh (an error is no sign of a live flow).
   */
  relates(owner: number, h: PacketHeader, nowMs: number): boolean
  /** Flows held for `owner` now (some may be expired but not yet removed). */
  entriesOf(owner: number): number
  /** Removes every expired entry; returns how many. */
  sweep(nowMs: number): number
  /** Forgets every flow (counters other than `entries` keep counting). */
  clear(): void
  /** Flows held now (some may be expired but not yet removed). */
  readonly entries: number
  /** Live flows removed to make room for new ones (both kinds below). */
  readonly evictions: number
  /** Of `evictions`: a peer at its cap lost its own oldest flow to its new one. */
  readonly peerCapEvictions: number
  /** Expired flows removed (by lookups, inserts, sweeps and eviction). */
  readonly expired: number
  /** Most flows held at once. */
  readonly capacity: number
  /** Most flows one peer holds. */
  readonly perPeerCapacity: number
}

const MAX_CAPACITY = 1 << 24

function checkPositive(name: string, v: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > max) {
    throw new InvalidConntrackOptionError(
      `conntrack ${name} must be a number from 1 to ${max}, got ${String(v)}: pass a value in that range or leave it unset`,
    )
  }
  return v
}

/** Creates an empty conntrack table; all memory is allocated here. */
export function createConntrack(init: ConntrackInit = {}): Conntrack {
  const capacity = Math.floor(
    checkPositive('capacity', init.capacity ?? DEFAULT_CONNTRACK_CAPACITY, MAX_CAPACITY),
  )
  const perPeer = Math.floor(
    checkPositive(
      'perPeerCapacity',
      init.perPeerCapacity ?? Math.min(DEFAULT_CONNTRACK_PEER_CAPACITY, capacity),
      capacity,
    ),
  )
  const ttlTcp = checkPositive('ttlMs.tcp', init.ttlMs?.tcp ?? DEFAULT_CONNTRACK_TCP_TTL_MS, 2 ** 52)
  const ttlUdp = checkPositive('ttlMs.udp', init.ttlMs?.udp ?? DEFAULT_CONNTRACK_UDP_TTL_MS, 2 ** 52)
  const ttlIcmp = checkPositive('ttlMs.icmp', init.ttlMs?.icmp ?? DEFAULT_CONNTRACK_ICMP_TTL_MS, 2 ** 52)
  let size = 8
  while (size < capacity * 2) size *= 2
  const mask = size - 1

  const used = new Uint8Array(size)
  const protoA = new Uint8Array(size)
  const ownerA = new Uint32Array(size)
  const srcA = new Uint32Array(size)
  const dstA = new Uint32Array(size)
  /** (sport << 16 | dport) as uint32 */
  const portsA = new Uint32Array(size)
  const hashA = new Uint32Array(size)
  const seenA = new Float64Array(size)
  /** share index of the entry */
  const shareA = new Int32Array(size)
  /** per-share least-recently-seen order: the share's head is its oldest entry */
  const prevA = new Int32Array(size)
  const nextA = new Int32Array(size)

  // Shares: one per peer holding at least one flow, so never more than `capacity` of them.
  const shareIndex = new Map<number, number>()
  const shareOwner = new Uint32Array(capacity)
  const shareCount = new Int32Array(capacity)
  const shareHead = new Int32Array(capacity).fill(-1)
  const shareTail = new Int32Array(capacity).fill(-1)
  const freeShares = new Int32Array(capacity)
  let freeTop = 0
  /** share indexes below this have been handed out (live or on the free stack) */
  let shareTop = 0

  const seedBuf = new Uint32Array(1)
  globalThis.crypto.getRandomValues(seedBuf)
  const seed = seedBuf[0]

  let entries = 0
  let evictions = 0
  let peerCapEvictions = 0
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

  function hash(owner: number, proto: number, src: number, dst: number, ports: number): number {
    let h = mix(seed ^ proto, owner)
    h = mix(h, src)
    h = mix(h, dst)
    h = mix(h, ports)
    h ^= h >>> 16
    h = Math.imul(h, 0x85ebca6b)
    h ^= h >>> 13
    return h >>> 0
  }

  function packPorts(sport: number, dport: number): number {
    return (((sport & 0xffff) << 16) | (dport & 0xffff)) >>> 0
  }

  /** The slot holding this flow, expired or not, or -1. */
  function slotOf(owner: number, proto: number, src: number, dst: number, ports: number): number {
    const h = hash(owner, proto, src, dst, ports)
    let i = h & mask
    while (used[i] === 1) {
      if (
        hashA[i] === h &&
        srcA[i] === src &&
        dstA[i] === dst &&
        portsA[i] === ports &&
        protoA[i] === proto &&
        ownerA[i] === owner
      ) {
        return i
      }
      i = (i + 1) & mask
    }
    return -1
  }

  /** The slot holding this live flow, or -1 (an expired one is removed on the way). */
  function find(
    owner: number,
    proto: number,
    src: number,
    dst: number,
    ports: number,
    nowMs: number,
  ): number {
    const i = slotOf(owner, proto, src, dst, ports)
    if (i >= 0 && isExpired(i, nowMs)) {
      remove(i)
      expired++
      return -1
    }
    return i
  }

  function shareFor(owner: number): number {
    const s = shareIndex.get(owner)
    if (s !== undefined) return s
    const n = freeTop > 0 ? freeShares[--freeTop] : shareTop++
    shareIndex.set(owner, n)
    shareOwner[n] = owner
    shareCount[n] = 0
    shareHead[n] = -1
    shareTail[n] = -1
    return n
  }

  /** Takes slot i out of share s's list (the count is the caller's business). */
  function unlink(i: number, s: number): void {
    const p = prevA[i]
    const n = nextA[i]
    if (p >= 0) nextA[p] = n
    else shareHead[s] = n
    if (n >= 0) prevA[n] = p
    else shareTail[s] = p
  }

  /** Puts slot i at the young end of share s's list. */
  function linkTail(i: number, s: number): void {
    const t = shareTail[s]
    prevA[i] = t
    nextA[i] = -1
    if (t >= 0) nextA[t] = i
    else shareHead[s] = i
    shareTail[s] = i
  }

  /** Takes slot i out of its share; frees the share when it was its last entry. */
  function detach(i: number): void {
    const s = shareA[i]
    unlink(i, s)
    if (--shareCount[s] === 0) {
      shareIndex.delete(shareOwner[s])
      freeShares[freeTop++] = s
    }
  }

  /** Adds slot i to share s, at its young end. */
  function attach(i: number, s: number): void {
    shareA[i] = s
    linkTail(i, s)
    shareCount[s]++
  }

  /** Backward-shift deletion: pulls later members of the probe run into the hole. */
  function remove(hole: number): void {
    detach(hole)
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
      ownerA[i] = ownerA[j]
      srcA[i] = srcA[j]
      dstA[i] = dstA[j]
      portsA[i] = portsA[j]
      hashA[i] = hashA[j]
      seenA[i] = seenA[j]
      const s = shareA[j]
      shareA[i] = s
      const p = prevA[j]
      const n = nextA[j]
      prevA[i] = p
      nextA[i] = n
      if (p >= 0) nextA[p] = i
      else shareHead[s] = i
      if (n >= 0) prevA[n] = i
      else shareTail[s] = i
      i = j
    }
    used[i] = 0
    entries--
  }

  /** Marks slot i as seen now: moves it to the young end of its share's list. */
  function touch(i: number, nowMs: number): void {
    seenA[i] = nowMs
    const s = shareA[i]
    if (i !== shareTail[s]) {
      unlink(i, s)
      linkTail(i, s)
    }
  }

  /** Removes the oldest entry of share s (counted as expired, or as an eviction). */
  function evictHead(s: number, nowMs: number): void {
    const victim = shareHead[s]
    if (isExpired(victim, nowMs)) expired++
    else evictions++
    remove(victim)
  }

  /**
   * The table is full: frees one slot. An expired share head goes first; else the oldest flow of
   * the peer holding the most. O(peers holding flows), paid only when the whole table is full.
   */
  function evictForRoom(nowMs: number): void {
    let heaviest = -1
    for (let s = 0; s < shareTop; s++) {
      if (shareCount[s] === 0) continue
      if (isExpired(shareHead[s], nowMs)) {
        evictHead(s, nowMs)
        return
      }
      if (heaviest < 0 || shareCount[s] > shareCount[heaviest]) heaviest = s
    }
    evictHead(heaviest, nowMs)
  }

  function track(owner: number, h: PacketHeader, nowMs: number): void {
    const o = owner >>> 0
    const s = h.src >>> 0
    const d = h.dst >>> 0
    const ports = packPorts(h.sport, h.dport)
    const p = h.proto & 0xff
    const hv = hash(o, p, s, d, ports)
    for (;;) {
      let i = hv & mask
      let reuse = -1
      while (used[i] === 1) {
        if (
          hashA[i] === hv &&
          srcA[i] === s &&
          dstA[i] === d &&
          portsA[i] === ports &&
          protoA[i] === p &&
          ownerA[i] === o
        ) {
          touch(i, nowMs)
          return
        }
        if (reuse < 0 && isExpired(i, nowMs)) reuse = i
        i = (i + 1) & mask
      }
      const own = shareIndex.get(o)
      if (own !== undefined && shareCount[own] >= perPeer) {
        // the peer is at its cap: it pays with its own oldest flow, never with another peer's
        if (!isExpired(shareHead[own], nowMs)) peerCapEvictions++
        evictHead(own, nowMs)
        continue // the run may have shifted: probe again
      }
      if (reuse >= 0) {
        // an expired entry on our probe run: overwrite it in place (the run stays intact)
        expired++
        i = reuse
        detach(i)
      } else if (entries >= capacity) {
        evictForRoom(nowMs)
        continue
      } else {
        entries++
      }
      used[i] = 1
      protoA[i] = p
      ownerA[i] = o
      srcA[i] = s
      dstA[i] = d
      portsA[i] = ports
      hashA[i] = hv
      seenA[i] = nowMs
      attach(i, shareFor(o))
      return
    }
  }

  function isReply(owner: number, h: PacketHeader, nowMs: number): boolean {
    const i = find(owner >>> 0, h.proto & 0xff, h.dst >>> 0, h.src >>> 0, packPorts(h.dport, h.sport), nowMs)
    if (i < 0) return false
    touch(i, nowMs)
    return true
  }

  function live(
    owner: number,
    proto: number,
    src: number,
    dst: number,
    ports: number,
    nowMs: number,
  ): boolean {
    const i = slotOf(owner, proto, src, dst, ports)
    return i >= 0 && !isExpired(i, nowMs)
  }

  function has(owner: number, h: PacketHeader, nowMs: number): boolean {
    return live(owner >>> 0, h.proto & 0xff, h.src >>> 0, h.dst >>> 0, packPorts(h.sport, h.dport), nowMs)
  }

  function relates(owner: number, h: PacketHeader, nowMs: number): boolean {
    const o = owner >>> 0
    const p = h.innerProto & 0xff
    const s = h.innerSrc >>> 0
    const d = h.innerDst >>> 0
    return (
      live(o, p, s, d, packPorts(h.innerSport, h.innerDport), nowMs) ||
      live(o, p, d, s, packPorts(h.innerDport, h.innerSport), nowMs)
    )
  }

  function entriesOf(owner: number): number {
    const s = shareIndex.get(owner >>> 0)
    return s === undefined ? 0 : shareCount[s]
  }

  function sweep(nowMs: number): number {
    // a pass over every slot took ~2 ms of an idle node's 10 s (issue 14, idle CPU): an empty
    // table has nothing to expire
    if (entries === 0) return 0
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
    shareIndex.clear()
    shareCount.fill(0)
    shareTop = 0
    freeTop = 0
  }

  return {
    track,
    isReply,
    has,
    relates,
    entriesOf,
    sweep,
    clear,
    get entries() {
      return entries
    },
    get evictions() {
      return evictions
    },
    get peerCapEvictions() {
      return peerCapEvictions
    },
    get expired() {
      return expired
    },
    capacity,
    perPeerCapacity: perPeer,
  }
}
