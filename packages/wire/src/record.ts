/**
 * `record`: a node's self-description, signed by the node's own libp2p Ed25519 key.
 */
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { z } from 'zod'
import {
  FORMAT_VERSION,
  MAX_CLAIM_BYTES,
  MAX_MULTIADDR_CHARS,
  MAX_RECORD_ADDRS,
  MAX_RECORD_BYTES,
  MAX_RECORD_LINKS,
  MAX_RECORD_RELAYS,
} from './constants.ts'
import { openEnvelope, type Signed, sealEnvelope, verifySigned } from './envelope.ts'
import {
  ipv4Schema,
  multiaddrSchema,
  nameSchema,
  networkIdSchema,
  peerIdSchema,
  timestampSchema,
} from './fields.ts'
import type { Result } from './result.ts'

export const RECORD_TYPE = 'record'

export const linkSchema = z.object({
  peer: peerIdSchema,
  path: z.enum(['direct', 'relay']),
  rttMs: z.number().nonnegative().max(3_600_000).nullable(),
})

export const nodeRecordSchema = z.object({
  type: z.literal(RECORD_TYPE),
  v: z.literal(FORMAT_VERSION),
  networkId: networkIdSchema,
  peerId: peerIdSchema,
  /** Monotonic per node; nodes use a ms timestamp so it survives restarts. */
  seq: z.number().int().nonnegative(),
  ts: timestampSchema,
  name: nameSchema,
  ip: ipv4Schema,
  counter: z.number().int().nonnegative(),
  addrs: z.array(multiaddrSchema).max(MAX_RECORD_ADDRS),
  links: z.array(linkSchema).max(MAX_RECORD_LINKS),
  relays: z.array(z.string().min(1).max(MAX_MULTIADDR_CHARS)).max(MAX_RECORD_RELAYS),
  /** Base64 of the node's claim envelope (`claimToString`); null for the network owner. */
  claim: z
    .string()
    .max(Math.ceil(MAX_CLAIM_BYTES / 3) * 4)
    .nullable(),
  policyVersion: z.number().int().nonnegative(),
  /** The node runs a member relay (circuit relay v2 server) other members may reserve on. */
  relay: z.boolean().optional(),
  /** Public addresses peers have observed for this node (candidates for hole punching). */
  observed: z.array(multiaddrSchema).max(MAX_RECORD_ADDRS).optional(),
})

export type Link = z.infer<typeof linkSchema>
export type NodeRecord = z.infer<typeof nodeRecordSchema>

/** Sign a record with the node's libp2p key. Throws InvalidMessageError on a bad record or > 16 KiB. */
export function encodeRecord(record: NodeRecord, nodeKey: PrivateKey): Promise<Uint8Array> {
  return sealEnvelope(RECORD_TYPE, nodeRecordSchema, record, nodeKey, MAX_RECORD_BYTES)
}

/** Parse and schema-check a record envelope (signature not checked). Never throws. */
export function decodeRecord(bytes: Uint8Array): Result<Signed<NodeRecord>> {
  return openEnvelope(bytes, RECORD_TYPE, nodeRecordSchema, MAX_RECORD_BYTES)
}

/** Check the record signature against the node's key (`publicKeyFromPeerId(body.peerId)`). */
export function verifyRecord(signed: Signed<NodeRecord>, nodePublicKey: PublicKey): Promise<boolean> {
  return verifySigned(signed, nodePublicKey)
}
