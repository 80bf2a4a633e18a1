/**
 * Allocation-free IPv4 header access over `(buf, off, len)` windows of a larger slab.
 *
 * Call `checkIpv4(buf, off, len)` first; the accessors assume it returned IPV4_OK and read bytes
 * directly (no DataView, no allocation). Called on unchecked bytes they still never throw: bytes
 * past the end of `buf` read as 0. Addresses and CIDR blocks as text are cidr.ts.
 */

/** The packet is a well-formed IPv4 header (reason code 0). */
export const IPV4_OK = 0
/** Fewer than 20 bytes, or `off`/`len` outside `buf`. */
export const IPV4_SHORT = 1
/** Version nibble is not 4. */
export const IPV4_NOT_IPV4 = 2
/** IHL < 5, or the header (IHL*4 bytes) is longer than `len`. */
export const IPV4_BAD_IHL = 3
/** Total length field > `len` or < IHL*4. */
export const IPV4_BAD_TOTAL_LENGTH = 4

/** Name of each `checkIpv4` reason code, indexed by code. */
export const IPV4_REASONS: readonly string[] = Object.freeze([
  'OK',
  'SHORT',
  'NOT_IPV4',
  'BAD_IHL',
  'BAD_TOTAL_LENGTH',
])

/** IP protocol numbers the accessors understand. */
export const IPPROTO_ICMP = 1
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17

/** ICMP type of an echo reply. */
export const ICMP_ECHO_REPLY = 0
/** ICMP type of a destination-unreachable error (also carries "fragmentation needed"). */
export const ICMP_DEST_UNREACHABLE = 3
/** ICMP type of a source-quench error (deprecated, still an error: RFC 6633). */
export const ICMP_SOURCE_QUENCH = 4
/** ICMP type of a redirect (classed with the errors: it embeds the packet it is about). */
export const ICMP_REDIRECT = 5
/** ICMP type of an echo request. */
export const ICMP_ECHO_REQUEST = 8
/** ICMP type of a time-exceeded error. */
export const ICMP_TIME_EXCEEDED = 11
/** ICMP type of a parameter-problem error. */
export const ICMP_PARAMETER_PROBLEM = 12
/** Bytes of an ICMP header (type, code, checksum, 4 type-specific bytes). */
export const ICMP_HEADER_BYTES = 8

/**
 * True for the ICMP types that carry the IP header and first 8 L4 bytes of another packet (RFC 792):
 * the same set Linux conntrack treats as errors related to a flow.
 */
export function isIcmpErrorType(type: number): boolean {
  return (
    type === ICMP_DEST_UNREACHABLE ||
    type === ICMP_SOURCE_QUENCH ||
    type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED ||
    type === ICMP_PARAMETER_PROBLEM
  )
}

/** Bytes in an IPv4 header without options. */
export const IPV4_MIN_HEADER_BYTES = 20

/**
 * Check that `buf[off .. off+len)` holds an IPv4 packet whose header fits and whose total-length
 * field fits in `len`. Returns IPV4_OK (0) or a reason code; `IPV4_REASONS[code]` names it.
 * Trailing bytes after the total length (link padding) are allowed.
 */
export function checkIpv4(buf: Uint8Array, off: number, len: number): number {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) return IPV4_SHORT
  if (len < IPV4_MIN_HEADER_BYTES) return IPV4_SHORT
  const b0 = buf[off]
  if (b0 >> 4 !== 4) return IPV4_NOT_IPV4
  const hl = (b0 & 0x0f) << 2
  if (hl < IPV4_MIN_HEADER_BYTES || hl > len) return IPV4_BAD_IHL
  const total = (buf[off + 2] << 8) | buf[off + 3]
  if (total > len || total < hl) return IPV4_BAD_TOTAL_LENGTH
  return IPV4_OK
}

/** Header length in bytes (IHL * 4). */
export function ipv4HeaderLen(buf: Uint8Array, off: number): number {
  return (buf[off] & 0x0f) << 2
}

/** Total length field (header + payload) in bytes. */
export function ipv4TotalLen(buf: Uint8Array, off: number): number {
  return ((buf[off + 2] << 8) | buf[off + 3]) & 0xffff
}

/** Protocol field (1 ICMP, 6 TCP, 17 UDP, ...). */
export function ipv4Proto(buf: Uint8Array, off: number): number {
  return buf[off + 9] & 0xff
}

/** Time to live. */
export function ipv4Ttl(buf: Uint8Array, off: number): number {
  return buf[off + 8] & 0xff
}

/** Source address as an unsigned 32-bit number. */
export function ipv4Src(buf: Uint8Array, off: number): number {
  return ((buf[off + 12] << 24) | (buf[off + 13] << 16) | (buf[off + 14] << 8) | buf[off + 15]) >>> 0
}

/** Destination address as an unsigned 32-bit number. */
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return ((buf[off + 16] << 24) | (buf[off + 17] << 16) | (buf[off + 18] << 8) | buf[off + 19]) >>> 0
}

/** True when the fragment offset is not 0, so no L4 header is present. */
export function isFragmentNonFirst(buf: Uint8Array, off: number): boolean {
  return (((buf[off + 6] << 8) | buf[off + 7]) & 0x1fff) !== 0
}

/**
 * Offset of the L4 header when at least `need` bytes of it lie inside the total length and the
 * packet is not a non-first fragment; otherwise -1.
 */
function l4Offset(buf: Uint8Array, off: number, need: number): number {
  if (isFragmentNonFirst(buf, off)) return -1
  const hl = (buf[off] & 0x0f) << 2
  const total = ((buf[off + 2] << 8) | buf[off + 3]) & 0xffff
  if (hl < IPV4_MIN_HEADER_BYTES || total - hl < need) return -1
  return off + hl
}

/** TCP/UDP source port; 0 for other protocols, non-first fragments or truncated L4 headers. */
export function l4SrcPort(buf: Uint8Array, off: number): number {
  const p = buf[off + 9]
  if (p !== IPPROTO_TCP && p !== IPPROTO_UDP) return 0
  const l4 = l4Offset(buf, off, 4)
  if (l4 < 0) return 0
  return ((buf[l4] << 8) | buf[l4 + 1]) & 0xffff
}

/** TCP/UDP destination port; 0 for other protocols, non-first fragments or truncated L4 headers. */
export function l4DstPort(buf: Uint8Array, off: number): number {
  const p = buf[off + 9]
  if (p !== IPPROTO_TCP && p !== IPPROTO_UDP) return 0
  const l4 = l4Offset(buf, off, 4)
  if (l4 < 0) return 0
  return ((buf[l4 + 2] << 8) | buf[l4 + 3]) & 0xffff
}

/** ICMP type byte; -1 when not ICMP, a non-first fragment, or truncated (0 is echo reply). */
export function icmpType(buf: Uint8Array, off: number): number {
  if (buf[off + 9] !== IPPROTO_ICMP) return -1
  const l4 = l4Offset(buf, off, 1)
  if (l4 < 0) return -1
  return buf[l4] & 0xff
}

/** TCP flags mask (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80). */
export const TCP_FIN = 0x01
export const TCP_SYN = 0x02
export const TCP_RST = 0x04
export const TCP_PSH = 0x08
export const TCP_ACK = 0x10

/** TCP flags byte; 0 when not TCP, a non-first fragment, or fewer than 14 TCP header bytes. */
export function tcpFlags(buf: Uint8Array, off: number): number {
  if (buf[off + 9] !== IPPROTO_TCP) return 0
  const l4 = l4Offset(buf, off, 14)
  if (l4 < 0) return 0
  return buf[l4 + 13] & 0xff
}
