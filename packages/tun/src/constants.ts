/** Defaults for {@link TunInit}; each is documented where the option names it with `@default`. */

/** Interface name. */
export const DEFAULT_NAME = 'meshlan0'
/** Interface MTU in bytes. */
export const DEFAULT_MTU = 1400
/** Kernel transmit queue length (packets waiting to be read); 500 overflowed in bursts. */
export const DEFAULT_TX_QUEUE_LEN = 5000
/** Bytes reserved in front of every packet of a read batch. */
export const DEFAULT_HEADROOM = 0
/** Packets per read batch (one callback). */
export const DEFAULT_BATCH_SIZE = 64
/** Batches read per poll wakeup before yielding back to the event loop. */
export const DEFAULT_MAX_BATCHES_PER_WAKEUP = 4
/** Kernel offloads (virtio-net headers, checksum and TSO super-packets). */
export const DEFAULT_OFFLOAD = false

/** Size of the legacy virtio_net_hdr that prefixes every packet when offload is on. */
export const VNET_HDR_LEN = 10
/** Largest IP packet; with offload a read may return one plus its vnet header. */
export const MAX_IP_PACKET = 65535
/** Bounds for the numeric options. */
export const MIN_MTU = 68
export const MAX_MTU = 65535
export const MAX_HEADROOM = 4096
export const MAX_BATCH_SIZE = 1024
export const MAX_BATCHES_PER_WAKEUP = 64
/** Longest interface name (IFNAMSIZ - 1). */
export const MAX_NAME_LEN = 15
/** segment(): cap segments to this IP packet size; 0 keeps the sender's gso_size. */
export const DEFAULT_SEGMENT_MTU = 0
