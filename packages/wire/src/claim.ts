/**
 * `claim`: a node's membership claim, signed by a mesh key's private key (derived from the join
 * string secret), binding the node's peer id to that key.
 */
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { z } from 'zod'
import { FORMAT_VERSION, MAX_CLAIM_BYTES } from './constants.ts'
import { fromBase64, toBase64 } from './encoding.ts'
import { openEnvelope, type Signed, sealEnvelope, verifySigned } from './envelope.ts'
import { nameSchema, networkIdSchema, peerIdSchema, publicKeySchema, timestampSchema } from './fields.ts'
import { fail, type Result } from './result.ts'

export const CLAIM_TYPE = 'claim'

export const membershipClaimSchema = z.object({
  type: z.literal(CLAIM_TYPE),
  v: z.literal(FORMAT_VERSION),
  networkId: networkIdSchema,
  peerId: peerIdSchema,
  keyName: nameSchema,
  keyPublicKey: publicKeySchema,
  issuedAt: timestampSchema,
})

export type MembershipClaim = z.infer<typeof membershipClaimSchema>

/** Sign a claim with the mesh key. Throws InvalidMessageError on a bad claim or > 2 KiB. */
export function encodeClaim(claim: MembershipClaim, meshKey: PrivateKey): Promise<Uint8Array> {
  return sealEnvelope(CLAIM_TYPE, membershipClaimSchema, claim, meshKey, MAX_CLAIM_BYTES)
}

/** Parse and schema-check a claim envelope (signature not checked). Never throws. */
export function decodeClaim(bytes: Uint8Array): Result<Signed<MembershipClaim>> {
  return openEnvelope(bytes, CLAIM_TYPE, membershipClaimSchema, MAX_CLAIM_BYTES)
}

/** Check the claim signature against the mesh key's public key (from the policy's key entry). */
export function verifyClaim(signed: Signed<MembershipClaim>, meshPublicKey: PublicKey): Promise<boolean> {
  return verifySigned(signed, meshPublicKey)
}

/** The form a claim envelope takes inside a node record's `claim` field (standard base64). */
export function claimToString(claimEnvelope: Uint8Array): string {
  return toBase64(claimEnvelope)
}

/** Decode a node record's `claim` field: base64 of a claim envelope. Never throws. */
export function decodeClaimString(text: string): Result<Signed<MembershipClaim>> {
  const bytes = fromBase64(text)
  if (bytes === null) return fail('claim field is not canonical base64')
  return decodeClaim(bytes)
}
