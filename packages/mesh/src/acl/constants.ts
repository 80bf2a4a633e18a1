/**
 * Defaults and limits of meshlan ACLs: the file format, the compiled form, connection tracking and the
 * packet filter. docs/acl.md describes the format; these values must match it.
 */

// Protocol numbers and ICMP types are defined once, in @meshlan/wire, beside the header parser.
export {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IPPROTO_ICMP as PROTO_ICMP,
  IPPROTO_TCP as PROTO_TCP,
  IPPROTO_UDP as PROTO_UDP,
} from '@meshlan/wire'

/** Largest ACL text `parseAcl()` reads, in UTF-16 code units; longer text is rejected, not parsed. */
export const MAX_ACL_TEXT_LENGTH = 1024 * 1024
/** Most rules one ACL may hold. */
export const MAX_ACL_RULES = 1024
/** Most `to` entries one rule may hold. */
export const MAX_RULE_TARGETS = 256
/** Most `ports` entries one rule may hold. */
export const MAX_RULE_PORTS = 64
/** Longest node or tag name in a `node:NAME` / `tag:NAME` target. */
export const MAX_ACL_NAME_LENGTH = 63
/** Longest `comment`, in UTF-16 code units. */
export const MAX_ACL_COMMENT_LENGTH = 1024
/** `parseAcl()` / `validateAcl()` stop collecting issues after this many (and say so in one more). */
export const MAX_ACL_ISSUES = 50

/** Key name `compileAcl()` uses in `explain()` texts when the context names none. */
export const DEFAULT_ACL_KEY_NAME = 'unnamed'

/**
 * Flows one conntrack table holds (all peers together): ~6 MB of typed arrays, allocated once. When
 * it is full, a new flow evicts the oldest entry of the peer holding the most (see the next value).
 * @default 65536
 */
export const DEFAULT_CONNTRACK_CAPACITY = 65536
/**
 * Flows one peer may hold in the conntrack table; a new flow of a peer at this cap evicts that
 * peer's own least recently seen flow, never another peer's. A busy client keeps a few hundred
 * flows with one host (a browser ~100–300 connections), so 4096 leaves ten times that, while 16
 * peers at their cap are needed to fill the default table: one member flooding new flows (the
 * 65,536-port UDP attack) only churns its own share.
 * @default 4096
 */
export const DEFAULT_CONNTRACK_PEER_CAPACITY = 4096
/**
 * How long an idle TCP flow stays tracked, in milliseconds.
 * @default 720000 (12 minutes)
 */
export const DEFAULT_CONNTRACK_TCP_TTL_MS = 12 * 60 * 1000
/**
 * How long an idle UDP flow (and any protocol other than TCP and ICMP) stays tracked, in milliseconds.
 * @default 180000 (3 minutes)
 */
export const DEFAULT_CONNTRACK_UDP_TTL_MS = 3 * 60 * 1000
/**
 * How long an idle ICMP echo flow stays tracked, in milliseconds.
 * @default 30000
 */
export const DEFAULT_CONNTRACK_ICMP_TTL_MS = 30 * 1000
/**
 * Whether `checkIngress()` drops packets whose source is not the peer's address (DROP_SPOOF).
 * Sources inside the peer's approved routes (and any source from the exit node we use) pass.
 * @default true
 */
export const DEFAULT_ANTI_SPOOF = true
