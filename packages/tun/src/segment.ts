/** Splitting offload packets for a peer or kernel that cannot take them. */
import { checkInt } from './configure.ts'
import { DEFAULT_HEADROOM, DEFAULT_SEGMENT_MTU, MAX_HEADROOM, MAX_MTU } from './constants.ts'
import { native } from './native.ts'
import type { TunBatch } from './tun.ts'

/** Options of {@link segment}. */
export interface SegmentOptions {
  /** Largest output IP packet; 0 keeps the segment size the sender chose (gso_size). @default 0 */
  mtu?: number
  /** Bytes reserved in front of every output packet. @default 0 */
  headroom?: number
}

/**
 * Turns one packet that starts with a virtio_net_hdr (as read from an offload TUN) into plain
 * packets: a TCP super-packet (IPv4 or IPv6) is split into MTU-sized packets with correct IP and
 * TCP checksums; a packet with an unfinished (NEEDS_CSUM) checksum gets it completed; any other
 * packet is copied without its header. Returns a batch in the read-batch layout whose slab and
 * arrays are all fresh (the caller owns everything), or null when the packet cannot be parsed.
 */
export function segment(packet: Uint8Array, options: SegmentOptions = {}): TunBatch | null {
  const mtu = checkInt('mtu', options.mtu ?? DEFAULT_SEGMENT_MTU, 0, MAX_MTU)
  const headroom = checkInt('headroom', options.headroom ?? DEFAULT_HEADROOM, 0, MAX_HEADROOM)
  const r = native().segment(packet, mtu, headroom)
  if (r === null) return null
  return { slab: r[0], offsets: r[1], lengths: r[2], count: r[3], headroom }
}
