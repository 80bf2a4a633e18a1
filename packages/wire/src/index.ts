/**
 * @meshlan/wire — meshlan's byte formats. Pure functions, no I/O, nothing of ours imported.
 *
 * - IPv4 header access over `(buf, off, len)` slab windows, allocation-free: `checkIpv4` returns a
 *   numeric reason code (`IPV4_REASONS[code]` names it), accessors read bytes directly.
 * - Tunnel frames `[type u8][len u24 BE][payload]` and a `FrameDecoder` that indexes complete frames
 *   into a caller-reused `FrameBatch` (ready for TUN `writeBatch`), plus JSON control messages.
 * - Signed envelopes `{"p","s"}` with per-type domain separation, and the signed formats
 *   `policy`, `claim`, `record`; join strings; mesh-key derivation; network ids.
 *
 * Parsers never throw on bad bytes: they return `{ ok: false, reason }` (or a reason code / a
 * FrameError on the hot path). Encoders throw InvalidMessageError / InvalidFrameError on values
 * that do not fit the format (programmer errors). docs/protocol.md specifies the formats.
 */

export * from './cidr.ts'
export {
  CLAIM_TYPE,
  claimToString,
  decodeClaim,
  decodeClaimString,
  encodeClaim,
  type MembershipClaim,
  membershipClaimSchema,
  verifyClaim,
} from './claim.ts'
export * from './constants.ts'
export {
  type CloseMessage,
  type ControlMessage,
  controlMessageSchema,
  decodeControl,
  encodeControl,
  encodeControlFrame,
  type HelloMessage,
  type RefuseMessage,
} from './control.ts'
export { DCUTR_CONNECT, DCUTR_SYNC, decodeHolePunch, encodeHolePunch, type HolePunch } from './dcutr.ts'
export { fromBase64, fromBase64Url, toBase64, toBase64Url } from './encoding.ts'
export {
  openEnvelope,
  openOuterEnvelope,
  publicKeyFromPeerId,
  publicKeyFromRawBase64,
  publicKeyToRawBase64,
  type Signed,
  sealEnvelope,
  signingBytes,
  verifySigned,
} from './envelope.ts'
export { InvalidFrameError, InvalidMessageError } from './errors.ts'
export { compareNames, isEd25519PeerId, NAME_RE, NETWORK_ID_RE, sanitizeName } from './fields.ts'
export {
  CONTROL_DECODER_MAX_BUFFER_BYTES,
  createFrameBatch,
  DEFAULT_DECODER_MAX_BUFFER_BYTES,
  encodeFrame,
  type FrameBatch,
  FrameDecoder,
  type FrameDecoderInit,
  type FrameError,
  type FrameErrorCode,
  writeFrameHeader,
} from './frame.ts'
export { HEADER_BAD_ICMP_ERROR, HEADER_OK, HEADER_REASONS, PacketHeader } from './header.ts'
export {
  decodeHelloAnswer,
  decodeHelloOffer,
  encodeHelloAnswer,
  encodeHelloOffer,
  type HelloAnswer,
  type HelloProof,
} from './hello.ts'
export * from './ipv4.ts'
export { encodeJoinString, type JoinInfo, parseBootstrapAddr, parseJoinString } from './join.ts'
export { deriveMeshKey, meshKeySeed, networkIdFrom, newMeshKeySecret } from './mesh-key.ts'
export {
  type Acl,
  type Admins,
  aclSchema,
  adminEpoch,
  adminsSchema,
  adminsSigningBytes,
  decodeNetworkPolicy,
  decodeOwnerPolicy,
  decodePolicy,
  encodePolicy,
  type MemberBinding,
  memberBindingSchema,
  POLICY_TYPE,
  type Policy,
  type PolicyKey,
  policyKeySchema,
  policySchema,
  type RevokedKey,
  type RevokedNode,
  type RouteApproval,
  routeApprovalSchema,
  signAdmins,
  verifyAdmins,
  verifyPolicy,
} from './policy.ts'
export {
  checkRoutePrefix,
  decodeRecord,
  encodeRecord,
  type Link,
  linkSchema,
  type NodeRecord,
  nodeRecordSchema,
  RECORD_TYPE,
  type RoutePrefixResult,
  routePrefixSchema,
  verifyRecord,
} from './record.ts'
export type { Result } from './result.ts'
export {
  checkVnetFrame,
  rebuildVnetHeader,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_ECN,
  VNET_GSO_NONE,
  VNET_GSO_TCPV4,
  VNET_HDR_BYTES,
  VNET_MAX_GSO_SEGMENTS,
  VNET_MAX_GSO_SIZE,
  VNET_MIN_GSO_SIZE,
  VNET_REASONS,
  type VnetReason,
  type VnetVerdict,
  vnetFrameCode,
} from './vnet.ts'
