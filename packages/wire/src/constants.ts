/**
 * Every size cap, magic string and default of the meshlan wire formats.
 * docs/protocol.md is the normative description; these values must match it.
 */

/** Bytes in a tunnel frame header: `[type u8][payload length u24 big-endian]`. */
export const FRAME_HEADER_BYTES = 4
/** Largest frame payload accepted: a maximal IPv4 packet plus 16 bytes of slack. */
export const MAX_FRAME_PAYLOAD = 65535 + 16
/** Frame type: the payload is one raw IPv4 packet. */
export const FRAME_TYPE_IP = 1
/** Frame type: the payload is one UTF-8 JSON control message. */
export const FRAME_TYPE_CONTROL = 2
/**
 * An IP packet preceded by its 10-byte virtio_net_hdr (a TUN with offloads: the packet may be a
 * TCP super-packet of up to 64 KiB that the receiving TUN, or meshlan's segmenter, splits).
 */
export const FRAME_TYPE_IP_VNET = 3

/**
 * Initial size of a FrameDecoder's reassembly buffer; it grows (doubling) when a push needs more.
 * @default 262144
 */
export const DEFAULT_DECODER_BUFFER_BYTES = 256 * 1024
/**
 * Frame slots in a batch made by `createFrameBatch()` without an argument.
 * @default 256
 */
export const DEFAULT_FRAME_BATCH_CAPACITY = 256

/** Largest control message payload (UTF-8 JSON), in bytes. */
export const MAX_CONTROL_BYTES = 4 * 1024
/** Version carried by the `hello` control message. */
export const CONTROL_VERSION = 1

/** Largest encoded `policy` envelope, in bytes. */
export const MAX_POLICY_BYTES = 256 * 1024
/** Largest encoded `claim` envelope, in bytes. */
export const MAX_CLAIM_BYTES = 2 * 1024
/** Largest encoded `record` envelope, in bytes. */
export const MAX_RECORD_BYTES = 16 * 1024
/** Most listen addresses in a node record. */
export const MAX_RECORD_ADDRS = 32
/** Most links in a node record. */
export const MAX_RECORD_LINKS = 256
/** Most relays in a node record. */
export const MAX_RECORD_RELAYS = 32
/** Most bootstrap multiaddrs in a policy or join string. */
export const MAX_BOOTSTRAP_ADDRS = 64
/** Most keys (and most revoked keys, and most revoked nodes) in a policy. */
export const MAX_POLICY_KEYS = 4096
/**
 * Most bound members in a policy (and so in a network). A binding is ~170 bytes, so 1000 of them
 * keep the policy well under MAX_POLICY_BYTES, and every per-member loop (recompute, revalidation)
 * stays in the low milliseconds.
 */
export const MAX_POLICY_MEMBERS = 1000
/** Longest multiaddr string accepted anywhere. */
export const MAX_MULTIADDR_CHARS = 1024

/** Version number carried as `v` in every signed format. */
export const FORMAT_VERSION = 1
/** The signed bytes of an envelope are `SIGNING_DOMAIN_PREFIX + type + SIGNING_DOMAIN_SUFFIX + payload`. */
export const SIGNING_DOMAIN_PREFIX = 'meshlan/'
/** See SIGNING_DOMAIN_PREFIX. */
export const SIGNING_DOMAIN_SUFFIX = '/v1\n'
/** Bytes in an Ed25519 signature. */
export const ED25519_SIGNATURE_BYTES = 64
/** Bytes in a raw Ed25519 public key. */
export const ED25519_PUBLIC_KEY_BYTES = 32

/** Prefix of every join string. */
export const JOIN_STRING_PREFIX = 'mlj1_'
/** Longest join string accepted (characters, after trimming whitespace). */
export const MAX_JOIN_STRING_CHARS = 8 * 1024
/** Bytes of a mesh key secret. */
export const MESH_KEY_SECRET_BYTES = 32
/** HKDF-SHA256 salt for mesh key derivation (info is the network id). */
export const MESH_KEY_HKDF_SALT = 'meshlan mesh key v1'

/** Domain string hashed in front of the inputs of `networkIdFrom`. */
export const NETWORK_ID_DOMAIN = 'meshlan/network-id/v1\n'
/** Bytes of the SHA-256 digest kept in a network id. */
export const NETWORK_ID_HASH_BYTES = 10
/** Prefix of every network id made by `networkIdFrom`. */
export const NETWORK_ID_PREFIX = 'n'

/** DCUtR: the largest HolePunch message we accept (the spec's 4 KiB). */
export const MAX_DCUTR_MESSAGE = 4096
/** DCUtR: observed addresses per message we keep. */
export const MAX_DCUTR_ADDRS = 32

/**
 * The membership handshake (`/meshlan/hello/1.0.0`): the largest message either side accepts. A
 * claim envelope is at most MAX_CLAIM_BYTES; nothing larger is ever read from a peer that has not
 * proven membership.
 */
export const MAX_HELLO_BYTES = MAX_CLAIM_BYTES + 64
/** Version byte of hello messages. */
export const HELLO_VERSION = 1
/** Longest refusal reason a hello answer carries (UTF-8 bytes). */
export const MAX_HELLO_REASON_BYTES = 256

/** Most routes (CIDRs) a node record advertises: a subnet router serves a few LANs, not a table. */
export const MAX_RECORD_ROUTES = 32
/** Most route approvals (prefix or exit, per node) in a policy: 32 routes for each of 32 routers. */
export const MAX_POLICY_ROUTES = 1024
/** Most prefixes one key's autoApprove names (the same cap as a record's routes). */
export const MAX_AUTO_APPROVE_ROUTES = MAX_RECORD_ROUTES
/**
 * Shortest routed prefix: a /8 is the widest LAN anyone routes; anything wider (a default route) is
 * what an exit node is for, approved as `'exit'`.
 */
export const MIN_ROUTE_PREFIX = 8
/**
 * Blocks no route may overlap: "this network" (0/8), loopback (127/8) and multicast (224/4) are
 * host-local or not unicast, so routing them through a peer would break the host itself.
 */
export const RESERVED_ROUTE_RANGES: readonly string[] = ['0.0.0.0/8', '127.0.0.0/8', '224.0.0.0/4']
/** The route value of an exit-node approval in a policy (instead of a CIDR). */
export const EXIT_ROUTE = 'exit'
/**
 * Most delegated admin nodes a policy names: a few trusted boxes besides the owner's. Each is one
 * more signature a receiver may try on a policy the owner did not sign, so the list stays short.
 */
export const MAX_POLICY_ADMINS = 8
