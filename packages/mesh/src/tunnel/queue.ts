/**
 * A peer's send queue: fq_codel in miniature (RFC 8290, RFC 8289), allocation-free.
 *
 * Why: a tunnel carries a bulk transfer and an SSH session to the same peer on one stream. A FIFO
 * in front of that stream made the SSH packet wait behind the whole standing queue of the transfer
 * (issue 14: ~1 MiB, ~10 ms at 1 Gbit/s). Here each packet goes into one of `FQ_FLOWS` flow
 * queues by a hash of its 5-tuple; deficit round robin serves flows that just became active
 * ("new" flows: a ping, a keystroke) before the flows that keep a backlog, and CoDel drops from
 * the head of a flow whose packets have waited longer than `CODEL_TARGET_MS` for a whole
 * `CODEL_INTERVAL_MS`, which tells a TCP sender to slow down before the queue stands.
 *
 * A packet is never copied: an entry is (slab, start, end) — the frame already written in the TUN
 * slab's headroom — plus its enqueue time. Entries live in preallocated typed arrays linked into
 * per-flow lists, so enqueue and dequeue allocate nothing.
 *
 * Buffer ownership: `enqueue` takes a reference to the slab (the pump owns it, see pump.ts); the
 * slab leaves the queue by `dequeue` (the caller sends `outSlab[outStart, outEnd)`) or by a drop.
 */
import {
  CODEL_INTERVAL_MS,
  CODEL_MIN_BACKLOG_BYTES,
  CODEL_TARGET_MS,
  FQ_FLOWS,
  FQ_QUANTUM_BYTES,
  PEER_QUEUE_PACKETS,
} from '../constants.ts'

const NONE = -1
const LIST_NONE = 0
const LIST_NEW = 1
const LIST_OLD = 2

/** Flow index of a 5-tuple (src, dst: uint32 IPv4; sport/dport: ports or the ICMP echo id). */
export function flowHash(src: number, dst: number, proto: number, sport: number, dport: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ dst ^ (h >>> 15), 0xc2b2ae35)
  h = Math.imul(h ^ (proto << 16) ^ ((sport << 16) | dport) ^ (h >>> 13), 0x27d4eb2f)
  return (h ^ (h >>> 16)) >>> 0
}

export interface FlowQueueInit {
  /** Bytes queued at most (all flows); above it the fattest flow loses its head packet. */
  limitBytes: number
  /** Packets queued at most. @default PEER_QUEUE_PACKETS */
  limitPackets?: number
  /** @default FQ_FLOWS (a power of two) */
  flows?: number
  /** @default FQ_QUANTUM_BYTES */
  quantum?: number
  /** @default CODEL_TARGET_MS */
  targetMs?: number
  /** @default CODEL_INTERVAL_MS */
  intervalMs?: number
  /** A flow holding less than this is never dropped by CoDel. @default CODEL_MIN_BACKLOG_BYTES */
  minBacklog?: number
}

export class FlowQueue {
  readonly limitBytes: number
  readonly limitPackets: number
  private readonly flowMask: number
  private readonly quantum: number
  private readonly target: number
  private readonly interval: number
  private readonly minBacklog: number
  // entries (a free list threads through `next`)
  private readonly slab: (Uint8Array | null)[]
  private readonly start: Uint32Array
  private readonly end: Uint32Array
  private readonly time: Float64Array
  private readonly next: Int32Array
  private free = 0
  // flows
  private readonly head: Int32Array
  private readonly tail: Int32Array
  private readonly flowBytes: Float64Array
  private readonly deficit: Float64Array
  private readonly list: Uint8Array
  private readonly listNext: Int32Array
  private newHead = NONE
  private newTail = NONE
  private oldHead = NONE
  private oldTail = NONE
  // CoDel state per flow (RFC 8289 names)
  private readonly firstAboveTime: Float64Array
  private readonly dropNext: Float64Array
  private readonly count: Uint32Array
  private readonly lastCount: Uint32Array
  private readonly dropping: Uint8Array
  /** Bytes and packets queued now. */
  bytes = 0
  packets = 0
  /** Packets dropped by CoDel (sojourn time) and by the byte/packet limits. */
  codelDrops = 0
  overflowDrops = 0
  /** The packet the last successful `dequeue` returned (valid until the next call). */
  outSlab: Uint8Array | null = null
  outStart = 0
  outEnd = 0
  /** Sojourn time (ms) of the packet the last `dequeue` returned. */
  outSojourn = 0
  /** The flow and enqueue time of the packet the last `dequeue` returned (for `unget`). */
  private outFlow = NONE
  private outTime = 0

  constructor(init: FlowQueueInit) {
    const flows = init.flows ?? FQ_FLOWS
    if (flows < 1 || (flows & (flows - 1)) !== 0) throw new RangeError('flows must be a power of two')
    this.limitBytes = init.limitBytes
    this.limitPackets = init.limitPackets ?? PEER_QUEUE_PACKETS
    this.flowMask = flows - 1
    this.quantum = init.quantum ?? FQ_QUANTUM_BYTES
    this.target = init.targetMs ?? CODEL_TARGET_MS
    this.interval = init.intervalMs ?? CODEL_INTERVAL_MS
    this.minBacklog = init.minBacklog ?? CODEL_MIN_BACKLOG_BYTES
    const n = this.limitPackets
    this.slab = new Array<Uint8Array | null>(n).fill(null)
    this.start = new Uint32Array(n)
    this.end = new Uint32Array(n)
    this.time = new Float64Array(n)
    this.next = new Int32Array(n)
    for (let i = 0; i < n; i++) this.next[i] = i + 1 < n ? i + 1 : NONE
    this.head = new Int32Array(flows).fill(NONE)
    this.tail = new Int32Array(flows).fill(NONE)
    this.flowBytes = new Float64Array(flows)
    this.deficit = new Float64Array(flows)
    this.list = new Uint8Array(flows)
    this.listNext = new Int32Array(flows).fill(NONE)
    this.firstAboveTime = new Float64Array(flows)
    this.dropNext = new Float64Array(flows)
    this.count = new Uint32Array(flows)
    this.lastCount = new Uint32Array(flows)
    this.dropping = new Uint8Array(flows)
  }

  /** Whether `bytes` more would fit without a drop. */
  fits(bytes: number): boolean {
    return this.packets < this.limitPackets && this.bytes + bytes <= this.limitBytes
  }

  /**
   * Queues `slab[start, end)` (one frame) in the flow `hash` selects, at time `now` (ms). When the
   * limits are reached, the fattest flow's oldest packets are dropped first (a sparse flow keeps
   * its place: RFC 8290 §4.1.1), which may be this packet's own flow.
   */
  enqueue(slab: Uint8Array, start: number, end: number, hash: number, now: number): void {
    const len = end - start
    if (len > this.limitBytes) {
      this.overflowDrops++
      return
    }
    while (!this.fits(len)) this.dropFattest()
    const f = hash & this.flowMask
    const e = this.free
    this.free = this.next[e]
    this.slab[e] = slab
    this.start[e] = start
    this.end[e] = end
    this.time[e] = now
    this.next[e] = NONE
    if (this.tail[f] === NONE) this.head[f] = e
    else this.next[this.tail[f]] = e
    this.tail[f] = e
    this.flowBytes[f] += len
    this.bytes += len
    this.packets++
    if (this.list[f] === LIST_NONE) {
      this.list[f] = LIST_NEW
      this.deficit[f] = this.quantum
      this.append(f, LIST_NEW)
    }
  }

  /**
   * The next packet to send at time `now` (ms) into `outSlab/outStart/outEnd`; false when empty.
   * CoDel's drops happen here, at the head, where the sojourn time is known.
   */
  dequeue(now: number): boolean {
    for (;;) {
      let f = this.newHead
      let from = LIST_NEW
      if (f === NONE) {
        f = this.oldHead
        from = LIST_OLD
        if (f === NONE) {
          this.outSlab = null
          return false
        }
      }
      if (this.deficit[f] <= 0) {
        // used its turn: more credit, to the back of the old flows
        this.deficit[f] += this.quantum
        this.popList(from)
        this.list[f] = LIST_OLD
        this.append(f, LIST_OLD)
        continue
      }
      if (!this.codelDequeue(f, now)) {
        // empty: a new flow goes to the old list once (so it cannot starve them by coming back
        // "new" at once), an old one leaves the schedule
        this.popList(from)
        if (from === LIST_NEW && this.oldHead !== NONE) {
          this.list[f] = LIST_OLD
          this.append(f, LIST_OLD)
        } else {
          this.list[f] = LIST_NONE
        }
        continue
      }
      this.deficit[f] -= this.outEnd - this.outStart
      this.outFlow = f
      return true
    }
  }

  /**
   * Puts the packet the last `dequeue` returned back at the head of its flow, as if never taken
   * (the caller found the stream full before sending it). Only right after a successful dequeue.
   */
  unget(): void {
    const f = this.outFlow
    if (f === NONE || this.outSlab === null) throw new Error('unget without a dequeued packet')
    const len = this.outEnd - this.outStart
    const e = this.free
    this.free = this.next[e]
    this.slab[e] = this.outSlab
    this.start[e] = this.outStart
    this.end[e] = this.outEnd
    this.time[e] = this.outTime
    this.next[e] = this.head[f]
    this.head[f] = e
    if (this.tail[f] === NONE) this.tail[f] = e
    this.flowBytes[f] += len
    this.bytes += len
    this.packets++
    this.deficit[f] += len
    // the flow stayed in its list: dequeue leaves a flow scheduled until it finds it empty
    this.outFlow = NONE
    this.outSlab = null
  }

  /** Forgets every queued packet (each counted in overflowDrops); returns how many. */
  clear(): number {
    const n = this.packets
    for (let f = 0; f <= this.flowMask; f++) {
      while (this.head[f] !== NONE) this.release(f)
      this.list[f] = LIST_NONE
      this.listNext[f] = NONE
      this.dropping[f] = 0
      this.firstAboveTime[f] = 0
    }
    this.newHead = this.newTail = this.oldHead = this.oldTail = NONE
    this.overflowDrops += n
    return n
  }

  // ---- CoDel (RFC 8289 §5, per flow) ---------------------------------------------------------

  /** Pops the flow's head into out*, or false when empty; says whether it may be dropped. */
  private okToDrop = false

  private doDequeue(f: number, now: number): boolean {
    if (this.head[f] === NONE) {
      this.firstAboveTime[f] = 0
      this.okToDrop = false
      return false
    }
    const e = this.head[f]
    this.outSlab = this.slab[e]
    this.outStart = this.start[e]
    this.outEnd = this.end[e]
    this.outSojourn = now - this.time[e]
    this.outTime = this.time[e]
    this.release(f)
    this.okToDrop = false
    // a backlog of a few super-packets is no standing queue: on a slow path one alone takes longer
    // than the target to send (RFC 8289 §4.4's "≤ one MTU" rule, for 64 KiB packets)
    if (this.outSojourn < this.target || this.flowBytes[f] < this.minBacklog) {
      this.firstAboveTime[f] = 0
    } else if (this.firstAboveTime[f] === 0) {
      this.firstAboveTime[f] = now + this.interval
    } else if (now >= this.firstAboveTime[f]) {
      this.okToDrop = true
    }
    return true
  }

  private codelDequeue(f: number, now: number): boolean {
    let got = this.doDequeue(f, now)
    if (!got) {
      this.dropping[f] = 0
      return false
    }
    if (this.dropping[f] === 1) {
      if (!this.okToDrop) {
        this.dropping[f] = 0
      } else {
        while (now >= this.dropNext[f] && this.dropping[f] === 1) {
          this.codelDrops++
          this.count[f]++
          got = this.doDequeue(f, now)
          if (!got) {
            this.dropping[f] = 0
            return false
          }
          if (!this.okToDrop) this.dropping[f] = 0
          else this.dropNext[f] = this.controlLaw(this.dropNext[f], this.count[f])
        }
      }
    } else if (this.okToDrop) {
      this.codelDrops++
      got = this.doDequeue(f, now)
      this.dropping[f] = 1
      const delta = this.count[f] - this.lastCount[f]
      this.count[f] = delta > 1 && now - this.dropNext[f] < 16 * this.interval ? delta : 1
      this.dropNext[f] = this.controlLaw(now, this.count[f])
      this.lastCount[f] = this.count[f]
      if (!got) return false
    }
    return true
  }

  private controlLaw(t: number, count: number): number {
    return t + this.interval / Math.sqrt(count)
  }

  // ---- lists -----------------------------------------------------------------------------------

  /** Unlinks the flow's head entry into the free list. */
  private release(f: number): void {
    const e = this.head[f]
    const len = this.end[e] - this.start[e]
    this.head[f] = this.next[e]
    if (this.head[f] === NONE) this.tail[f] = NONE
    this.slab[e] = null
    this.next[e] = this.free
    this.free = e
    this.flowBytes[f] -= len
    this.bytes -= len
    this.packets--
  }

  private dropFattest(): void {
    let fat = 0
    for (let f = 1; f <= this.flowMask; f++) if (this.flowBytes[f] > this.flowBytes[fat]) fat = f
    this.release(fat)
    this.overflowDrops++
  }

  private append(f: number, which: number): void {
    this.listNext[f] = NONE
    if (which === LIST_NEW) {
      if (this.newTail === NONE) this.newHead = f
      else this.listNext[this.newTail] = f
      this.newTail = f
    } else {
      if (this.oldTail === NONE) this.oldHead = f
      else this.listNext[this.oldTail] = f
      this.oldTail = f
    }
  }

  private popList(which: number): void {
    if (which === LIST_NEW) {
      const f = this.newHead
      this.newHead = this.listNext[f]
      if (this.newHead === NONE) this.newTail = NONE
    } else {
      const f = this.oldHead
      this.oldHead = this.listNext[f]
      if (this.oldHead === NONE) this.oldTail = NONE
    }
  }
}
