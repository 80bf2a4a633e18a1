/**
 * @meshlan/tun: the Linux TUN device as a small N-API addon in C with a TypeScript wrapper.
 *
 * `openTun(init)` creates and configures an interface; reads arrive as batches (one fresh slab
 * Buffer per batch, packets laid out `[headroom][pkt]...` with reused `offsets`/`lengths` arrays);
 * `writeBatch` writes subranges of one buffer, one write() per packet. With `offload` the kernel
 * hands over TCP super-packets prefixed by a virtio_net_hdr; `segment` and `writeBatch` split them
 * for peers or TUNs without offload. See README.md for ownership rules.
 *
 * `dialFromPort(init)` dials TCP from the port a `reusePort` server listens on (hole punching by
 * TCP simultaneous open) and resolves with a `net.Socket`.
 *
 * `chacha20Poly1305()` seals and opens ChaCha20-Poly1305 into caller-owned buffers through the
 * OpenSSL inside Node (the Noise transport's AEAD).
 */

export type { Aead, AeadSource } from './aead.ts'
export {
  AEAD_KEY_LENGTH,
  AEAD_MAX_PARTS,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  chacha20Poly1305,
} from './aead.ts'
export type { CidrResult } from './configure.ts'
export { parseCidr } from './configure.ts'
export {
  DEFAULT_BATCH_SIZE,
  DEFAULT_HEADROOM,
  DEFAULT_MAX_BATCHES_PER_WAKEUP,
  DEFAULT_MTU,
  DEFAULT_NAME,
  DEFAULT_OFFLOAD,
  DEFAULT_TX_QUEUE_LEN,
  MAX_IP_PACKET,
  VNET_HDR_LEN,
} from './constants.ts'
export {
  TunAddonMissingError,
  TunConfigError,
  TunError,
  TunIoError,
  TunNameInUseError,
  TunOptionsError,
  TunPermissionError,
  TunUnavailableError,
} from './errors.ts'
export type { InterfaceWatch } from './netmon.ts'
export { watchInterfaces } from './netmon.ts'
export {
  dropFilePages,
  type PeerCredentials,
  peerCredentials,
  peerGroups,
  sdNotify,
  socketFd,
  socketPeerCredentials,
  trimMalloc,
} from './peercred.ts'
export type { SegmentOptions } from './segment.ts'
export { segment } from './segment.ts'
export type { DialFromPortInit } from './sock.ts'
export {
  AddressInUseError,
  DEFAULT_DIAL_LOCAL_ADDRESS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DialError,
  DialRefusedError,
  DialTimeoutError,
  dialFromPort,
} from './sock.ts'
export type {
  Tun,
  TunBatch,
  TunBatchHandler,
  TunErrorHandler,
  TunInit,
  TunOffloadOptions,
  TunStats,
} from './tun.ts'
export { openTun } from './tun.ts'
