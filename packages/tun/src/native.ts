/** Loads the native addon (build/Release/meshlan_tun.node) and describes its functions. */
import { loadAddon } from './addon.ts'

/** Indices into the Float64Array of counters the addon updates in place. */
export const STAT = {
  rxPackets: 0,
  rxBytes: 1,
  rxBatches: 2,
  rxErrors: 3,
  txPackets: 4,
  txBytes: 5,
  txDrops: 6,
  txErrors: 7,
  wakeups: 8,
  segments: 9,
  vnetRefused: 10,
} as const
export const STAT_COUNT = 11

/** Opaque handle owned by the addon. */
export type NativeHandle = { readonly __brand: 'meshlan-tun-handle' }

/** Called with (slab, count) for a read batch, or (error, null) when reading failed for good. */
export type NativeDispatch = (slabOrError: Buffer | NodeJS.ErrnoException, count: number | null) => void

export interface NativeAddon {
  open(name: string, vnetHdr: boolean, offloadFlags: number): [fd: number, name: string]
  closeFd(fd: number): void
  attach(
    fd: number,
    vnetHdr: boolean,
    mtu: number,
    headroom: number,
    batchSize: number,
    maxBatchesPerWakeup: number,
    slotMax: number,
    offsets: Uint32Array,
    lengths: Uint32Array,
    stats: Float64Array,
    dispatch: NativeDispatch,
  ): NativeHandle
  setPolling(handle: NativeHandle, on: boolean): void
  close(handle: NativeHandle): void
  writeBatch(
    handle: NativeHandle,
    slab: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    vnetIn: boolean,
  ): number
  segment(
    src: Uint8Array,
    mtu: number,
    headroom: number,
  ): [slab: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number] | null
  /**
   * segment() into caller-owned memory: the packet count, −reason (an index into vnetReasons) when
   * the frame is refused, or 0 when the output does not fit.
   */
  segmentInto(
    src: Uint8Array,
    out: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    mtu: number,
    headroom: number,
  ): number
  /** Why vnet.c refuses a frame, indexed by reason code (0 is OK); same as @meshlan/wire's. */
  vnetReasons: readonly string[]
  constants: {
    TUN_F_CSUM: number
    TUN_F_TSO4: number
    TUN_F_TSO6: number
    TUN_F_TSO_ECN: number
    STATS_COUNT: number
    VNET_HDR_LEN: number
    VNET_MAX_SEGMENTS: number
    VNET_MIN_GSO_SIZE: number
  }
}

/** The addon, loaded on first use; throws TunAddonMissingError when it is not built. */
export function native(): NativeAddon {
  return loadAddon<NativeAddon>('meshlan_tun')
}
