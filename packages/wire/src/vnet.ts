/**
 * Frame type 3: a 10-byte virtio_net_hdr followed by one IPv4 packet (possibly a TCP super-packet).
 *
 * The header comes from a remote peer, and on the receiver it decides where the TUN write path (or
 * the kernel) computes and stores a checksum and how a super-packet is split. So nothing the peer
 * sent may decide where bytes are written: `checkVnetFrame` refuses every header that is not
 * exactly what the packet's own IP/TCP/UDP headers imply, and `rebuildVnetHeader` then rewrites
 * the header from the packet itself (csum_start = IP header length, csum_offset = the checksum
 * field of the packet's own protocol, hdr_len = IP + TCP header length, DATA_VALID dropped). The
 * only peer value kept is gso_size, bounded to [VNET_MIN_GSO_SIZE, maxGsoSize].
 *
 * Layout (legacy virtio_net_hdr, little-endian like the x86-64 and arm64 hosts that produce it):
 *   0 flags u8 · 1 gso_type u8 · 2 hdr_len u16 · 4 gso_size u16 · 6 csum_start u16 · 8 csum_offset u16
 * Only IPv4 is carried (the pump is IPv4-only), so GSO is NONE or TCPV4 and never ECN.
 *
 * Allocation-free: the verdicts are preallocated frozen values.
 */

/** Bytes of the legacy virtio_net_hdr in front of the IP packet. */
export const VNET_HDR_BYTES = 10
/** flags: the L4 checksum is partial (pseudo-header sum only) and must be completed. */
export const VNET_F_NEEDS_CSUM = 1
/** flags: the sender's kernel already verified the checksum (dropped on rebuild: we verify). */
export const VNET_F_DATA_VALID = 2
/** gso_type: not a super-packet. */
export const VNET_GSO_NONE = 0
/** gso_type: a TCP/IPv4 super-packet to be split into gso_size payload chunks. */
export const VNET_GSO_TCPV4 = 1
/** gso_type bit: the super-packet carries ECN CWR handling; never offered (no TUN_F_TSO_ECN). */
export const VNET_GSO_ECN = 0x80
/**
 * Smallest gso_size accepted: 536 is the default IPv4 MSS every host must accept (RFC 1122
 * 4.2.2.6). Below it a 64 KiB frame would become hundreds of writes (gso_size=1 made 65,495).
 */
export const VNET_MIN_GSO_SIZE = 536
/**
 * Largest gso_size accepted by default: the overlay MTU (DEFAULT_MTU = 1400 in @meshlan/mesh,
 * repeated here because wire imports nothing of ours) minus a 20-byte IPv4 and a 20-byte TCP
 * header. A sender on the default MTU never produces more.
 */
export const VNET_MAX_GSO_SIZE = 1400 - 40
/** Largest IPv4 packet (total length is 16 bits). */
const MAX_IP_PACKET = 65535
/**
 * Most segments one super-packet may become: the largest TCP payload (65535 − 40) split at the
 * smallest gso_size (536) is 123 packets; anything asking for more is refused.
 */
export const VNET_MAX_GSO_SEGMENTS = Math.ceil((MAX_IP_PACKET - 40) / VNET_MIN_GSO_SIZE)

/** Offset of the checksum inside a TCP header. */
const TCP_CSUM_OFFSET = 16
/** Offset of the checksum inside a UDP header. */
const UDP_CSUM_OFFSET = 6
const IPPROTO_TCP = 6
const IPPROTO_UDP = 17

/**
 * Why a type-3 frame was refused. Same names and order as the native addon's `vnetReasons`
 * (packages/tun/native/tun.c), so the fuzzer can compare both verdicts.
 */
export const VNET_REASONS = Object.freeze([
  'OK',
  'SHORT', // fewer than 10 + 20 bytes, or the window lies outside the buffer
  'NOT_IPV4', // version nibble is not 4
  'BAD_IHL', // IHL < 5 or the IP header is longer than the packet
  'LENGTH_MISMATCH', // IP total length != frame payload − 10
  'BAD_FLAGS', // a flag other than NEEDS_CSUM or DATA_VALID, or both at once
  'GSO_ECN', // gso_type has the ECN bit
  'BAD_GSO_TYPE', // gso_type other than NONE or TCPV4
  'CSUM_FIELDS_SET', // no NEEDS_CSUM but csum_start/csum_offset are not 0
  'CSUM_PROTO', // NEEDS_CSUM on a protocol other than TCP or UDP
  'FRAGMENT', // NEEDS_CSUM or GSO on an IP fragment
  'L4_SHORT', // the TCP (20..60 bytes, data offset) or UDP (8 bytes) header does not fit
  'UDP_LENGTH', // UDP length field != IP payload length
  'CSUM_START', // csum_start != IP header length
  'CSUM_OFFSET', // csum_offset != 16 (TCP) / 6 (UDP)
  'GSO_FIELDS_SET', // not GSO but gso_size/hdr_len are not 0
  'GSO_NO_CSUM', // GSO without NEEDS_CSUM
  'GSO_PROTO', // GSO on a protocol other than TCP
  'GSO_HDR_LEN', // hdr_len < IP + TCP header length, or past the packet
  'GSO_SIZE', // gso_size outside [VNET_MIN_GSO_SIZE, maxGsoSize]
  'GSO_EMPTY', // a super-packet without TCP payload
  'GSO_SEGMENTS', // more than VNET_MAX_GSO_SEGMENTS segments
  'GSO_TCP_FLAGS', // SYN or RST on a super-packet
] as const)
export type VnetReason = Exclude<(typeof VNET_REASONS)[number], 'OK'>

/** The verdict of `checkVnetFrame`: a value, never an exception. */
export type VnetVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: VnetReason }

const OK_VERDICT: VnetVerdict = Object.freeze({ ok: true })
const REFUSED: readonly VnetVerdict[] = Object.freeze(
  VNET_REASONS.map((reason, code) =>
    code === 0 ? OK_VERDICT : Object.freeze({ ok: false as const, reason: reason as VnetReason }),
  ),
)

// reason codes, indexed like VNET_REASONS
const R_SHORT = 1
const R_NOT_IPV4 = 2
const R_BAD_IHL = 3
const R_LENGTH = 4
const R_FLAGS = 5
const R_GSO_ECN = 6
const R_GSO_TYPE = 7
const R_CSUM_FIELDS = 8
const R_CSUM_PROTO = 9
const R_FRAGMENT = 10
const R_L4_SHORT = 11
const R_UDP_LENGTH = 12
const R_CSUM_START = 13
const R_CSUM_OFFSET = 14
const R_GSO_FIELDS = 15
const R_GSO_NO_CSUM = 16
const R_GSO_PROTO = 17
const R_GSO_HDR_LEN = 18
const R_GSO_SIZE = 19
const R_GSO_EMPTY = 20
const R_GSO_SEGMENTS = 21
const R_GSO_TCP_FLAGS = 22

const TCP_SYN = 0x02
const TCP_RST = 0x04

function le16(buf: Uint8Array, at: number): number {
  return buf[at] | (buf[at + 1] << 8)
}

function wle16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff
  buf[at + 1] = (v >>> 8) & 0xff
}

/**
 * Checks the type-3 frame payload `buf[off .. off+len)` (virtio_net_hdr + IPv4 packet). Returns a
 * reason code: 0 when the frame is acceptable, else an index into VNET_REASONS.
 * `maxGsoSize` is the receiver's MTU − 40 (default VNET_MAX_GSO_SIZE).
 */
export function vnetFrameCode(
  buf: Uint8Array,
  off: number,
  len: number,
  maxGsoSize: number = VNET_MAX_GSO_SIZE,
): number {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) return R_SHORT
  if (len < VNET_HDR_BYTES + 20) return R_SHORT
  const ip = off + VNET_HDR_BYTES
  const ipLen = len - VNET_HDR_BYTES
  if (buf[ip] >> 4 !== 4) return R_NOT_IPV4
  const ihl = (buf[ip] & 0x0f) << 2
  if (ihl < 20 || ihl > ipLen) return R_BAD_IHL
  if (((buf[ip + 2] << 8) | buf[ip + 3]) !== ipLen) return R_LENGTH

  const flags = buf[off]
  const gsoType = buf[off + 1]
  const hdrLen = le16(buf, off + 2)
  const gsoSize = le16(buf, off + 4)
  const csumStart = le16(buf, off + 6)
  const csumOffset = le16(buf, off + 8)
  if ((flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) !== 0) return R_FLAGS
  if (flags === (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) return R_FLAGS
  if ((gsoType & VNET_GSO_ECN) !== 0) return R_GSO_ECN
  if (gsoType !== VNET_GSO_NONE && gsoType !== VNET_GSO_TCPV4) return R_GSO_TYPE
  const gso = gsoType === VNET_GSO_TCPV4

  const proto = buf[ip + 9]
  if ((flags & VNET_F_NEEDS_CSUM) === 0) {
    if (csumStart !== 0 || csumOffset !== 0) return R_CSUM_FIELDS
  } else {
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return R_CSUM_PROTO
    if ((((buf[ip + 6] << 8) | buf[ip + 7]) & 0x3fff) !== 0) return R_FRAGMENT // MF or an offset
    const l4Len = ipLen - ihl
    if (proto === IPPROTO_TCP) {
      if (l4Len < 20) return R_L4_SHORT
      const tcphl = (buf[ip + ihl + 12] >> 4) << 2
      if (tcphl < 20 || tcphl > l4Len) return R_L4_SHORT
    } else {
      if (l4Len < 8) return R_L4_SHORT
      if (((buf[ip + ihl + 4] << 8) | buf[ip + ihl + 5]) !== l4Len) return R_UDP_LENGTH
    }
    if (csumStart !== ihl) return R_CSUM_START
    if (csumOffset !== (proto === IPPROTO_TCP ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET)) return R_CSUM_OFFSET
  }
  if (!gso) {
    if (gsoSize !== 0 || hdrLen !== 0) return R_GSO_FIELDS
    return 0
  }
  if ((flags & VNET_F_NEEDS_CSUM) === 0) return R_GSO_NO_CSUM
  if (proto !== IPPROTO_TCP) return R_GSO_PROTO
  // NEEDS_CSUM passed above: not a fragment, TCP header fits
  const hdrs = ihl + ((buf[ip + ihl + 12] >> 4) << 2)
  // hdr_len is a hint (Linux sends the linear head length): at least the headers, within the packet
  if (hdrLen < hdrs || hdrLen > ipLen) return R_GSO_HDR_LEN
  const max = Math.min(Math.max(maxGsoSize, VNET_MIN_GSO_SIZE), MAX_IP_PACKET - 40)
  if (gsoSize < VNET_MIN_GSO_SIZE || gsoSize > max) return R_GSO_SIZE
  const payload = ipLen - hdrs
  if (payload === 0) return R_GSO_EMPTY
  if (Math.ceil(payload / gsoSize) > VNET_MAX_GSO_SEGMENTS) return R_GSO_SEGMENTS
  if ((buf[ip + ihl + 13] & (TCP_SYN | TCP_RST)) !== 0) return R_GSO_TCP_FLAGS
  return 0
}

/**
 * Checks a type-3 frame payload (see `vnetFrameCode` for the rules); `{ ok: true }` or
 * `{ ok: false, reason }`. The returned objects are shared and frozen: no allocation per call.
 */
export function checkVnetFrame(
  buf: Uint8Array,
  off: number,
  len: number,
  maxGsoSize: number = VNET_MAX_GSO_SIZE,
): VnetVerdict {
  return REFUSED[vnetFrameCode(buf, off, len, maxGsoSize)]
}

/**
 * Rewrites the virtio_net_hdr at `buf[off .. off+10)` from the packet behind it, in place. Call
 * only after `checkVnetFrame` accepted the frame. Keeps NEEDS_CSUM, gso_type and gso_size (all
 * validated); csum_start, csum_offset and hdr_len come from the packet; DATA_VALID is dropped so
 * the receiving kernel verifies the checksum itself.
 */
export function rebuildVnetHeader(buf: Uint8Array, off: number): void {
  const ip = off + VNET_HDR_BYTES
  const ihl = (buf[ip] & 0x0f) << 2
  const proto = buf[ip + 9]
  const csum = (buf[off] & VNET_F_NEEDS_CSUM) !== 0
  const gso = buf[off + 1] === VNET_GSO_TCPV4
  buf[off] = csum ? VNET_F_NEEDS_CSUM : 0
  buf[off + 1] = gso ? VNET_GSO_TCPV4 : VNET_GSO_NONE
  wle16(buf, off + 2, gso ? ihl + ((buf[ip + ihl + 12] >> 4) << 2) : 0)
  if (!gso) wle16(buf, off + 4, 0)
  wle16(buf, off + 6, csum ? ihl : 0)
  wle16(buf, off + 8, csum ? (proto === IPPROTO_TCP ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET) : 0)
}
