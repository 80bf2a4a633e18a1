/** The TUN device: open, configure, batched reads, per-packet writes, close. */
import { existsSync } from 'node:fs'
import { addressLine, checkCidr, checkInt, checkName, runIp } from './configure.ts'
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_HEADROOM,
  DEFAULT_MAX_BATCHES_PER_WAKEUP,
  DEFAULT_MTU,
  DEFAULT_NAME,
  DEFAULT_OFFLOAD,
  DEFAULT_TX_QUEUE_LEN,
  MAX_BATCH_SIZE,
  MAX_BATCHES_PER_WAKEUP,
  MAX_HEADROOM,
  MAX_IP_PACKET,
  MAX_MTU,
  MAX_NAME_LEN,
  MIN_MTU,
  VNET_HDR_LEN,
} from './constants.ts'
import {
  TunError,
  TunIoError,
  TunNameInUseError,
  TunOptionsError,
  TunPermissionError,
  TunUnavailableError,
} from './errors.ts'
import { type NativeHandle, native, STAT, STAT_COUNT } from './native.ts'

/** Which kernel offloads to enable; `offload: true` means all of them. */
export interface TunOffloadOptions {
  /**
   * Prefix every packet read and written with a 10-byte virtio_net_hdr (IFF_VNET_HDR).
   * Required by every offload below.
   * @default true
   */
  vnetHdr?: boolean
  /** TUN_F_CSUM: packets may carry an unfinished (partial) checksum. @default true */
  csum?: boolean
  /** TUN_F_TSO4: IPv4 TCP super-packets up to 64 KB. Needs csum. @default true */
  tso4?: boolean
  /** TUN_F_TSO6: IPv6 TCP super-packets up to 64 KB. Needs csum. @default true */
  tso6?: boolean
}

/** Options of {@link openTun}. */
export interface TunInit {
  /** Interface name (at most 15 bytes; `%d` lets the kernel pick a number). @default 'meshlan0' */
  name?: string
  /** Interface MTU in bytes. @default 1400 */
  mtu?: number
  /** Address with prefix, e.g. '10.144.0.1/16'; adds the address and thereby the subnet route. */
  address?: string
  /** Kernel queue of packets waiting to be read (txqueuelen); 500 overflowed in bursts. @default 5000 */
  txQueueLen?: number
  /** Bytes reserved in front of every packet of a read batch, for a frame header. @default 0 */
  headroom?: number
  /** Packets per read batch (one callback). @default 64 */
  batchSize?: number
  /** Batches read per poll wakeup before yielding to the event loop. @default 4 */
  maxBatchesPerWakeup?: number
  /**
   * Kernel offloads: packets read and written carry a 10-byte virtio_net_hdr, reads may return
   * TCP super-packets (~64 KB) and packets with unfinished checksums. `true` = vnet header +
   * CSUM + TSO4 + TSO6.
   * @default false
   */
  offload?: boolean | TunOffloadOptions
}

/**
 * One read batch: packets laid out contiguously in `slab` as `[headroom][pkt0][headroom][pkt1]...`.
 * Packet i is `slab.subarray(offsets[i], offsets[i] + lengths[i])`; its headroom is the
 * `headroom` bytes before `offsets[i]`, free for the receiver to write a frame header in place.
 * With offload on, each packet starts with its 10-byte virtio_net_hdr.
 *
 * Ownership: `slab` is freshly allocated for this batch and belongs to the receiver, which may keep
 * it (e.g. hand it to a network send). `offsets` and `lengths` are reused for the next batch: copy
 * what you need before the callback returns, and do not keep the batch object itself.
 */
export interface TunBatch {
  readonly slab: Buffer
  readonly offsets: Uint32Array
  readonly lengths: Uint32Array
  readonly count: number
  readonly headroom: number
}

/** Counters (packets and bytes include the vnet header when offload is on). */
export interface TunStats {
  /** Packets read from the TUN. */
  rxPackets: number
  rxBytes: number
  /** Read batches (callbacks). */
  rxBatches: number
  rxErrors: number
  /** Packets written to the TUN (a split super-packet counts each segment). */
  txPackets: number
  txBytes: number
  /** Input packets not written: EAGAIN/ENOBUFS (the rest of the batch), bad packets, errors. */
  txDrops: number
  txErrors: number
  /** Poll wakeups that read. */
  wakeups: number
  /** Segments produced by splitting super-packets for this TUN. */
  segments: number
  /**
   * Frames with a virtio_net_hdr (from a peer) refused before any write: a checksum position, GSO
   * type, gso_size or segment count the packet itself does not justify. Also counted in txDrops.
   */
  vnetRefused: number
}

export type TunBatchHandler = (batch: TunBatch) => void
export type TunErrorHandler = (error: TunIoError) => void

/** An open TUN device. Not thread safe; use it on the thread that opened it. */
export interface Tun {
  /** Interface name as the kernel named it. */
  readonly name: string
  readonly mtu: number
  readonly headroom: number
  readonly batchSize: number
  /** Packets read and written carry a virtio_net_hdr (offload on). */
  readonly vnetHdr: boolean
  /** Receives read batches; assigning a function starts reading (unless paused). */
  onBatch: TunBatchHandler | null
  /** Receives a fatal read error (e.g. interface deleted); without one it is thrown (uncaught). */
  onError: TunErrorHandler | null
  /** Sets onBatch and starts (or resumes) reading. */
  start(onBatch: TunBatchHandler): void
  /** Stops polling the fd (backpressure); the kernel queues up to txQueueLen packets, then drops. */
  pause(): void
  /** Restarts polling after pause(). */
  resume(): void
  readonly paused: boolean
  /**
   * Writes `count` packets, packet i being `slab[offsets[i] .. offsets[i] + lengths[i])`, one
   * write() per packet. Synchronous: the caller may reuse its buffers once it returns. Returns the
   * number of input packets written; on EAGAIN/ENOBUFS the rest count as dropped (no exception).
   * `vnetHdr` says whether the packets start with a virtio_net_hdr (default: as this TUN reads).
   * A plain packet into an offload TUN gets a zero header. A vnet packet (frame type 3, from a
   * peer) is validated first and refused (counted in `vnetRefused`) unless its header is exactly
   * what its IPv4/TCP/UDP headers imply; an offload TUN then gets a header rebuilt from the packet,
   * a plain TUN gets the checksum completed and a TSO super-packet split into MTU-sized packets.
   * After close() it returns 0.
   */
  writeBatch(
    slab: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    vnetHdr?: boolean,
  ): number
  /** Writes separate packets (convenience; one native call per packet). Returns the number written. */
  writePackets(pkts: readonly Uint8Array[], vnetHdr?: boolean): number
  /** Adds an address with prefix (and its subnet route). */
  setAddress(cidr: string): void
  /** Removes an address added with setAddress or TunInit.address. */
  removeAddress(cidr: string): void
  /** A snapshot of the counters (one small object per call, nothing per packet). */
  readonly stats: TunStats
  /** Copies the counters into `into` without allocating. */
  readStats(into: TunStats): TunStats
  readonly closed: boolean
  /** Stops polling and closes the fd, which removes the interface. Idempotent. */
  close(): void
}

const TUN_F = { csum: 0x01, tso4: 0x02, tso6: 0x04 }

interface OffloadPlan {
  vnetHdr: boolean
  flags: number
  tso: boolean
}

function planOffload(offload: boolean | TunOffloadOptions): OffloadPlan {
  if (offload === false) return { vnetHdr: false, flags: 0, tso: false }
  if (offload === true) return { vnetHdr: true, flags: TUN_F.csum | TUN_F.tso4 | TUN_F.tso6, tso: true }
  if (typeof offload !== 'object' || offload === null) {
    throw new TunOptionsError('offload', 'must be a boolean or { vnetHdr, csum, tso4, tso6 }')
  }
  const vnetHdr = offload.vnetHdr ?? true
  const csum = offload.csum ?? true
  const tso4 = offload.tso4 ?? true
  const tso6 = offload.tso6 ?? true
  if ((csum || tso4 || tso6) && !vnetHdr) {
    throw new TunOptionsError(
      'offload',
      'checksum/TSO offloads without vnetHdr would leave checksums unfinished and stall TCP: ' +
        'set vnetHdr: true, or turn the offloads off',
    )
  }
  if ((tso4 || tso6) && !csum) {
    throw new TunOptionsError(
      'offload',
      'TSO needs checksum offload (the kernel answers EINVAL): set csum: true',
    )
  }
  const flags = (csum ? TUN_F.csum : 0) | (tso4 ? TUN_F.tso4 : 0) | (tso6 ? TUN_F.tso6 : 0)
  return { vnetHdr, flags, tso: tso4 || tso6 }
}

function mapOpenError(err: unknown, name: string): Error {
  const e = err as NodeJS.ErrnoException
  const syscall = e.syscall ?? 'open'
  switch (e.code) {
    case 'EPERM':
    case 'EACCES':
      return new TunPermissionError(`cannot open TUN ${name} (${syscall}: ${e.code})`, { cause: err })
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return new TunUnavailableError(`/dev/net/tun is not available (${e.code})`, { cause: err })
    case 'EBUSY':
      return new TunNameInUseError(name, { cause: err })
    case 'EINVAL':
      if (syscall.includes('TUNSETIFF') && existsSync(`/sys/class/net/${name}`)) {
        return new TunNameInUseError(name, { cause: err })
      }
      if (syscall.includes('TUNSETOFFLOAD')) {
        return new TunOptionsError(
          'offload',
          `the kernel refused these offloads (${e.message}): turn offload off`,
        )
      }
      return new TunError('ERR_TUN_OPEN', `cannot open TUN ${name}: ${e.message}`, { cause: err })
    default:
      return new TunError('ERR_TUN_OPEN', `cannot open TUN ${name}: ${e.message ?? String(err)}`, {
        cause: err,
      })
  }
}

class TunDevice implements Tun {
  readonly name: string
  readonly mtu: number
  readonly headroom: number
  readonly batchSize: number
  readonly vnetHdr: boolean
  onError: TunErrorHandler | null = null
  #handle: NativeHandle
  #offsets: Uint32Array
  #lengths: Uint32Array
  #stats: Float64Array
  #onBatch: TunBatchHandler | null = null
  #paused = false
  #closed = false
  #polling = false
  #one = { offsets: new Uint32Array(1), lengths: new Uint32Array(1) }

  constructor(
    fd: number,
    name: string,
    mtu: number,
    headroom: number,
    batchSize: number,
    maxBatches: number,
    plan: OffloadPlan,
  ) {
    this.name = name
    this.mtu = mtu
    this.headroom = headroom
    this.batchSize = batchSize
    this.vnetHdr = plan.vnetHdr
    this.#offsets = new Uint32Array(batchSize)
    this.#lengths = new Uint32Array(batchSize)
    this.#stats = new Float64Array(STAT_COUNT)
    const slotMax = plan.tso
      ? MAX_IP_PACKET + VNET_HDR_LEN
      : Math.max(mtu, 1500) + (plan.vnetHdr ? VNET_HDR_LEN : 0)
    this.#handle = native().attach(
      fd,
      plan.vnetHdr,
      mtu,
      headroom,
      batchSize,
      maxBatches,
      slotMax,
      this.#offsets,
      this.#lengths,
      this.#stats,
      (slabOrError, count) => this.#dispatch(slabOrError, count),
    )
  }

  #dispatch(slabOrError: Buffer | NodeJS.ErrnoException, count: number | null): void {
    if (count === null) {
      const e = slabOrError as NodeJS.ErrnoException
      this.#polling = false
      const error = new TunIoError(e.code ?? 'EIO', e.syscall ?? 'read', `TUN ${this.name}: ${e.message}`, {
        cause: e,
      })
      if (this.onError) this.onError(error)
      else throw error
      return
    }
    const cb = this.#onBatch
    if (cb === null) return
    cb({
      slab: slabOrError as Buffer,
      offsets: this.#offsets,
      lengths: this.#lengths,
      count,
      headroom: this.headroom,
    })
  }

  #update(): void {
    const want = !this.#closed && !this.#paused && this.#onBatch !== null
    if (want === this.#polling) return
    native().setPolling(this.#handle, want)
    this.#polling = want
  }

  get onBatch(): TunBatchHandler | null {
    return this.#onBatch
  }

  set onBatch(cb: TunBatchHandler | null) {
    this.#onBatch = cb
    this.#update()
  }

  start(onBatch: TunBatchHandler): void {
    this.#onBatch = onBatch
    this.#paused = false
    this.#update()
  }

  pause(): void {
    this.#paused = true
    this.#update()
  }

  resume(): void {
    this.#paused = false
    this.#update()
  }

  get paused(): boolean {
    return this.#paused
  }

  get closed(): boolean {
    return this.#closed
  }

  writeBatch(
    slab: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    vnetHdr: boolean = this.vnetHdr,
  ): number {
    if (this.#closed) return 0
    return native().writeBatch(this.#handle, slab, offsets, lengths, count, vnetHdr)
  }

  writePackets(pkts: readonly Uint8Array[], vnetHdr: boolean = this.vnetHdr): number {
    if (this.#closed) return 0
    const { offsets, lengths } = this.#one
    const addon = native()
    let written = 0
    for (const pkt of pkts) {
      lengths[0] = pkt.length
      written += addon.writeBatch(this.#handle, pkt, offsets, lengths, 1, vnetHdr)
    }
    return written
  }

  setAddress(cidr: string): void {
    runIp([addressLine('add', this.name, cidr)])
  }

  removeAddress(cidr: string): void {
    runIp([addressLine('del', this.name, cidr)])
  }

  get stats(): TunStats {
    return this.readStats({
      rxPackets: 0,
      rxBytes: 0,
      rxBatches: 0,
      rxErrors: 0,
      txPackets: 0,
      txBytes: 0,
      txDrops: 0,
      txErrors: 0,
      wakeups: 0,
      segments: 0,
      vnetRefused: 0,
    })
  }

  readStats(into: TunStats): TunStats {
    const s = this.#stats
    into.rxPackets = s[STAT.rxPackets]
    into.rxBytes = s[STAT.rxBytes]
    into.rxBatches = s[STAT.rxBatches]
    into.rxErrors = s[STAT.rxErrors]
    into.txPackets = s[STAT.txPackets]
    into.txBytes = s[STAT.txBytes]
    into.txDrops = s[STAT.txDrops]
    into.txErrors = s[STAT.txErrors]
    into.wakeups = s[STAT.wakeups]
    into.segments = s[STAT.segments]
    into.vnetRefused = s[STAT.vnetRefused]
    return into
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#polling = false
    this.#onBatch = null
    native().close(this.#handle)
  }
}

/**
 * Opens (creates) a TUN interface, configures MTU, txqueuelen and the optional address with `ip`,
 * and sets the link up. Reading starts when `onBatch` is assigned or `start()` is called.
 * Throws TunPermissionError, TunUnavailableError, TunNameInUseError, TunOptionsError,
 * TunConfigError.
 */
export function openTun(init: TunInit = {}): Tun {
  const name = checkName(init.name ?? DEFAULT_NAME, MAX_NAME_LEN)
  const mtu = checkInt('mtu', init.mtu ?? DEFAULT_MTU, MIN_MTU, MAX_MTU)
  const txQueueLen = checkInt('txQueueLen', init.txQueueLen ?? DEFAULT_TX_QUEUE_LEN, 0, 1 << 24)
  const headroom = checkInt('headroom', init.headroom ?? DEFAULT_HEADROOM, 0, MAX_HEADROOM)
  const batchSize = checkInt('batchSize', init.batchSize ?? DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE)
  const maxBatches = checkInt(
    'maxBatchesPerWakeup',
    init.maxBatchesPerWakeup ?? DEFAULT_MAX_BATCHES_PER_WAKEUP,
    1,
    MAX_BATCHES_PER_WAKEUP,
  )
  if (init.address !== undefined) checkCidr('address', init.address)
  const plan = planOffload(init.offload ?? DEFAULT_OFFLOAD)

  const addon = native()
  let fd: number
  let ifname: string
  try {
    ;[fd, ifname] = addon.open(name, plan.vnetHdr, plan.flags)
  } catch (err) {
    throw mapOpenError(err, name)
  }
  let tun: Tun
  try {
    tun = new TunDevice(fd, ifname, mtu, headroom, batchSize, maxBatches, plan)
  } catch (err) {
    addon.closeFd(fd)
    throw err
  }
  try {
    const lines = [`link set dev ${ifname} mtu ${mtu} txqueuelen ${txQueueLen}`]
    if (init.address !== undefined) lines.push(addressLine('add', ifname, init.address))
    lines.push(`link set dev ${ifname} up`)
    runIp(lines)
  } catch (err) {
    tun.close()
    throw err
  }
  return tun
}
