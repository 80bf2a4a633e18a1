/**
 * `policy`: the network's membership and ACL document, signed by the network owner's libp2p key.
 */
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { z } from 'zod'
import { FORMAT_VERSION, MAX_BOOTSTRAP_ADDRS, MAX_POLICY_BYTES, MAX_POLICY_KEYS } from './constants.ts'
import { openEnvelope, type Signed, sealEnvelope, verifySigned } from './envelope.ts'
import {
  multiaddrSchema,
  nameSchema,
  networkIdSchema,
  peerIdSchema,
  publicKeySchema,
  subnetSchema,
  timestampSchema,
} from './fields.ts'
import type { Result } from './result.ts'

export const POLICY_TYPE = 'policy'

/** ACL attached to a key. Only `rules` is required here; the ACL itself is validated elsewhere. */
export const aclSchema = z.looseObject({ rules: z.array(z.unknown()).max(4096) })

export const policyKeySchema = z.object({
  name: nameSchema,
  publicKey: publicKeySchema,
  acl: aclSchema,
  tags: z.array(z.string().min(1).max(64)).max(64),
  createdAt: timestampSchema,
  expiresAt: timestampSchema.nullable(),
  reusable: z.boolean(),
  claimedBy: peerIdSchema.nullable(),
})

export const revokedKeySchema = z.object({
  name: nameSchema,
  publicKey: publicKeySchema,
  revokedAt: timestampSchema,
})
export const revokedNodeSchema = z.object({ peerId: peerIdSchema, revokedAt: timestampSchema })

export const policySchema = z
  .object({
    type: z.literal(POLICY_TYPE),
    v: z.literal(FORMAT_VERSION),
    networkId: networkIdSchema,
    name: z.string().min(1).max(64),
    subnet: subnetSchema,
    owner: peerIdSchema,
    version: z.number().int().min(1),
    issuedAt: timestampSchema,
    keys: z.array(policyKeySchema).max(MAX_POLICY_KEYS),
    revokedKeys: z.array(revokedKeySchema).max(MAX_POLICY_KEYS),
    revokedNodes: z.array(revokedNodeSchema).max(MAX_POLICY_KEYS),
    bootstrap: z.array(multiaddrSchema).max(MAX_BOOTSTRAP_ADDRS),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>()
    p.keys.forEach((k, i) => {
      if (seen.has(k.name)) {
        ctx.addIssue({ code: 'custom', path: ['keys', i, 'name'], message: `duplicate key name '${k.name}'` })
      }
      seen.add(k.name)
    })
  })

export type Acl = z.infer<typeof aclSchema>
export type PolicyKey = z.infer<typeof policyKeySchema>
export type RevokedKey = z.infer<typeof revokedKeySchema>
export type RevokedNode = z.infer<typeof revokedNodeSchema>
export type Policy = z.infer<typeof policySchema>

/** Sign a policy with the owner's private key. Throws InvalidMessageError on a bad policy or > 256 KiB. */
export function encodePolicy(policy: Policy, ownerKey: PrivateKey): Promise<Uint8Array> {
  return sealEnvelope(POLICY_TYPE, policySchema, policy, ownerKey, MAX_POLICY_BYTES)
}

/** Parse and schema-check a policy envelope (signature not checked). Never throws. */
export function decodePolicy(bytes: Uint8Array): Result<Signed<Policy>> {
  return openEnvelope(bytes, POLICY_TYPE, policySchema, MAX_POLICY_BYTES)
}

/** Check the policy signature against the owner's public key (e.g. `publicKeyFromPeerId(owner)`). */
export function verifyPolicy(signed: Signed<Policy>, ownerPublicKey: PublicKey): Promise<boolean> {
  return verifySigned(signed, ownerPublicKey)
}
