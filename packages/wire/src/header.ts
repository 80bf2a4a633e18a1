/**
 * One IPv4 packet's header, parsed once into plain fields: the packet filter, connection tracking
 * and `explain()` take this one argument instead of seven positional ones.
 *
 * Allocation-free: make one `PacketHeader` per pump direction (or per link) and call `parse()` for
 * every packet; it overwrites every field. The fields are only meaningful after `parse()` returned
 * HEADER_OK, and only until the next `parse()`.
 */
import {
  checkIpv4,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_BYTES,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_MIN_HEADER_BYTES,
  IPV4_OK,
  IPV4_REASONS,
  isFragmentNonFirst,
  isIcmpErrorType,
} from './ipv4.ts'

/** `parse()` filled every field (reason code 0; codes 1–4 are `checkIpv4`'s). */
export const HEADER_OK = IPV4_OK
/**
 * An ICMP error (destination unreachable, time exceeded, …) without a complete embedded IPv4
 * header plus the 8 L4 bytes RFC 792 requires: it cannot be related to any flow.
 */
export const HEADER_BAD_ICMP_ERROR = IPV4_REASONS.length

/** Name of each `PacketHeader.parse` reason code, indexed by code. */
export const HEADER_REASONS: readonly string[] = Object.freeze([...IPV4_REASONS, 'BAD_ICMP_ERROR'])

/** Bytes of the embedded packet's L4 header an ICMP error must carry (RFC 792: 64 bits). */
const ICMP_ERROR_L4_BYTES = 8

/** A parsed IPv4 header (see the file comment for ownership). Addresses are uint32. */
export class PacketHeader {
  /** Source address. */
  src = 0
  /** Destination address. */
  dst = 0
  /** IP protocol number (1 icmp, 6 tcp, 17 udp, …). */
  proto = 0
  /** IPv4 header length in bytes. */
  headerLen = 0
  /** Total length field (header + payload) in bytes. */
  totalLen = 0
  /** A non-first fragment: it has no L4 header, so ports are 0 and `icmpType` is -1. */
  fragment = false
  /**
   * TCP/UDP source port. For an ICMP echo request or reply, the echo identifier (in both `sport`
   * and `dport`, so an echo flow is keyed like any other); 0 otherwise.
   */
  sport = 0
  /** TCP/UDP destination port; the echo identifier for ICMP echo (see `sport`); 0 otherwise. */
  dport = 0
  /** ICMP type; -1 when not ICMP, a non-first fragment, or truncated. */
  icmpType = -1
  /** ICMP code; -1 when there is none. */
  icmpCode = -1
  /** The packet is an ICMP error; the `inner*` fields describe the packet it is about. */
  icmpError = false
  /** Protocol of the packet an ICMP error is about (0 unless `icmpError`). */
  innerProto = 0
  /** Source address of the packet an ICMP error is about. */
  innerSrc = 0
  /** Destination address of the packet an ICMP error is about. */
  innerDst = 0
  /** Source port (or echo identifier) of the packet an ICMP error is about. */
  innerSport = 0
  /** Destination port (or echo identifier) of the packet an ICMP error is about. */
  innerDport = 0

  /**
   * Parses `buf[off .. off+len)`. Returns HEADER_OK (0) or a reason code (`HEADER_REASONS[code]`
   * names it); never throws, never allocates. On a bad packet the fields are left zeroed.
   */
  parse(buf: Uint8Array, off: number, len: number): number {
    this.sport = 0
    this.dport = 0
    this.icmpType = -1
    this.icmpCode = -1
    this.icmpError = false
    this.innerProto = 0
    this.innerSrc = 0
    this.innerDst = 0
    this.innerSport = 0
    this.innerDport = 0
    const r = checkIpv4(buf, off, len)
    if (r !== IPV4_OK) {
      this.src = 0
      this.dst = 0
      this.proto = 0
      this.headerLen = 0
      this.totalLen = 0
      this.fragment = false
      return r
    }
    const hl = (buf[off] & 0x0f) << 2
    const total = (buf[off + 2] << 8) | buf[off + 3]
    const proto = buf[off + 9]
    this.headerLen = hl
    this.totalLen = total
    this.proto = proto
    this.src = ((buf[off + 12] << 24) | (buf[off + 13] << 16) | (buf[off + 14] << 8) | buf[off + 15]) >>> 0
    this.dst = ((buf[off + 16] << 24) | (buf[off + 17] << 16) | (buf[off + 18] << 8) | buf[off + 19]) >>> 0
    const fragment = isFragmentNonFirst(buf, off)
    this.fragment = fragment
    if (fragment) return HEADER_OK
    const l4 = off + hl
    const l4Len = total - hl
    if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
      if (l4Len >= 4) {
        this.sport = (buf[l4] << 8) | buf[l4 + 1]
        this.dport = (buf[l4 + 2] << 8) | buf[l4 + 3]
      }
      return HEADER_OK
    }
    if (proto !== IPPROTO_ICMP || l4Len < 1) return HEADER_OK
    const type = buf[l4]
    this.icmpType = type
    if (l4Len >= 2) this.icmpCode = buf[l4 + 1]
    if (type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY) {
      if (l4Len >= ICMP_HEADER_BYTES) {
        const id = (buf[l4 + 4] << 8) | buf[l4 + 5]
        this.sport = id
        this.dport = id
      }
      return HEADER_OK
    }
    if (!isIcmpErrorType(type)) return HEADER_OK
    this.icmpError = true
    return this.parseInner(buf, l4 + ICMP_HEADER_BYTES, l4Len - ICMP_HEADER_BYTES)
  }

  /** The embedded header of an ICMP error at `buf[p .. p+avail)`. */
  private parseInner(buf: Uint8Array, p: number, avail: number): number {
    if (avail < IPV4_MIN_HEADER_BYTES || buf[p] >> 4 !== 4) return HEADER_BAD_ICMP_ERROR
    const hl = (buf[p] & 0x0f) << 2
    if (hl < IPV4_MIN_HEADER_BYTES || avail < hl + ICMP_ERROR_L4_BYTES) return HEADER_BAD_ICMP_ERROR
    const proto = buf[p + 9]
    this.innerProto = proto
    this.innerSrc = ((buf[p + 12] << 24) | (buf[p + 13] << 16) | (buf[p + 14] << 8) | buf[p + 15]) >>> 0
    this.innerDst = ((buf[p + 16] << 24) | (buf[p + 17] << 16) | (buf[p + 18] << 8) | buf[p + 19]) >>> 0
    if (isFragmentNonFirst(buf, p)) return HEADER_OK
    const l4 = p + hl
    if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
      this.innerSport = (buf[l4] << 8) | buf[l4 + 1]
      this.innerDport = (buf[l4 + 2] << 8) | buf[l4 + 3]
    } else if (proto === IPPROTO_ICMP && (buf[l4] === ICMP_ECHO_REQUEST || buf[l4] === ICMP_ECHO_REPLY)) {
      const id = (buf[l4 + 4] << 8) | buf[l4 + 5]
      this.innerSport = id
      this.innerDport = id
    }
    return HEADER_OK
  }
}
