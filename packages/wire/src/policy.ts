/**
 * `policy`: the network's membership and ACL document, signed by the network owner's libp2p key —
 * or by a delegated admin node the owner certified (`admins`, docs/protocol.md "Delegated admins").
 */
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { z } from 'zod'
import {
  EXIT_ROUTE,
  FORMAT_VERSION,
  MAX_AUTO_APPROVE_ROUTES,
  MAX_BOOTSTRAP_ADDRS,
  MAX_POLICY_ADMINS,
  MAX_POLICY_BYTES,
  MAX_POLICY_KEYS,
  MAX_POLICY_MEMBERS,
  MAX_POLICY_ROUTES,
} from './constants.ts'
import { fromBase64, parseJsonBytes, toBase64 } from './encoding.ts'
import {
  openEnvelope,
  openOuterEnvelope,
  publicKeyFromPeerId,
  type Signed,
  sealEnvelope,
  verifySigned,
} from './envelope.ts'
import {
  ipv4Schema,
  multiaddrSchema,
  nameSchema,
  networkIdSchema,
  peerIdSchema,
  publicKeySchema,
  subnetSchema,
  timestampSchema,
} from './fields.ts'
import { routePrefixSchema } from './record.ts'
import type { Result } from './result.ts'

export const POLICY_TYPE = 'policy'

/** Deepest nesting an ACL may use: the format needs 4 (acl → rules → rule → ports). */
const MAX_ACL_DEPTH = 16

/** Finite numbers, strings, booleans, null, arrays and plain objects, at most MAX_ACL_DEPTH deep. */
function isPlainBoundedJson(value: unknown): boolean {
  // iterative, so a hostile depth cannot overflow our own stack
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number]
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return false
      continue
    }
    if (typeof v !== 'object' || depth >= MAX_ACL_DEPTH) return false
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1])
  }
  return true
}

/**
 * ACL attached to a key. Only `rules` is required here (the ACL itself is validated elsewhere), but
 * it must be plain JSON data that re-encodes to itself: finite numbers, nesting at most
 * MAX_ACL_DEPTH deep (a 20,000-deep array would overflow the stack of whoever re-encodes it).
 */
export const aclSchema = z
  .looseObject({ rules: z.array(z.unknown()).max(4096) })
  .refine(isPlainBoundedJson, `ACL must be plain JSON: finite numbers, at most ${MAX_ACL_DEPTH} levels deep`)

/**
 * What the owner approves on sight for members of a key: their advertisement of these prefixes (or
 * any prefix inside one of them) and, with `exit`, their exit-node offer.
 */
export const autoApproveSchema = z.object({
  routes: z.array(routePrefixSchema).max(MAX_AUTO_APPROVE_ROUTES),
  exit: z.boolean(),
})

export const policyKeySchema = z.object({
  name: nameSchema,
  publicKey: publicKeySchema,
  acl: aclSchema,
  tags: z.array(z.string().min(1).max(64)).max(64),
  createdAt: timestampSchema,
  /** After this time the key admits no new member (join-by); members it already admitted stay. */
  expiresAt: timestampSchema.nullable(),
  /** At this time every membership of the key ends (certificate-like); null = never. */
  memberExpiresAt: timestampSchema.nullable().default(null),
  reusable: z.boolean(),
  claimedBy: peerIdSchema.nullable(),
  /** Most members the owner binds with this key; null = only the network's MAX_POLICY_MEMBERS. */
  maxMembers: z.number().int().min(1).max(MAX_POLICY_MEMBERS).nullable().default(null),
  /** Routes and exit offers of this key's members the owner approves without being asked. */
  autoApprove: autoApproveSchema.default({ routes: [], exit: false }),
})

/**
 * The owner's approval of one node's offer: a prefix it advertises (canonical CIDR) or `'exit'`.
 * Only approved ∩ advertised is ever routed.
 */
export const routeApprovalSchema = z.object({
  peerId: peerIdSchema,
  route: z.union([z.literal(EXIT_ROUTE), routePrefixSchema]),
  approvedAt: timestampSchema,
})

/**
 * The owner's binding of an admitted member: its peer id, the key it joined with, and the name and
 * overlay address nobody else may take. `node:NAME` ACL targets resolve through these only.
 */
export const memberBindingSchema = z.object({
  peerId: peerIdSchema,
  key: nameSchema,
  name: nameSchema,
  ip: ipv4Schema,
  boundAt: timestampSchema,
})

export const revokedKeySchema = z.object({
  name: nameSchema,
  publicKey: publicKeySchema,
  revokedAt: timestampSchema,
})
export const revokedNodeSchema = z.object({ peerId: peerIdSchema, revokedAt: timestampSchema })

/**
 * The owner's certificate of delegated admins: node peer ids whose signatures every node accepts on
 * a policy, for this epoch. `sig` is the owner's Ed25519 signature over adminsSigningBytes(); a new
 * certificate (an admin added or removed) has a higher epoch, and a policy of a lower epoch loses
 * to any of a higher one whatever its version, so a removed admin's versions never win again.
 */
export const adminsSchema = z.object({
  epoch: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31),
  nodes: z.array(peerIdSchema).max(MAX_POLICY_ADMINS),
  sig: z.string().max(128),
})

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
    members: z.array(memberBindingSchema).max(MAX_POLICY_MEMBERS).default([]),
    routes: z.array(routeApprovalSchema).max(MAX_POLICY_ROUTES).default([]),
    /** Delegated admins (owner-certified); null: the owner alone signs. */
    admins: adminsSchema.nullable().default(null),
  })
  .superRefine((p, ctx) => {
    for (const field of ['peerId', 'name', 'ip'] as const) {
      const taken = new Set<string>()
      p.members.forEach((m, i) => {
        if (taken.has(m[field])) {
          ctx.addIssue({
            code: 'custom',
            path: ['members', i, field],
            message: `duplicate member ${field} '${m[field]}'`,
          })
        }
        taken.add(m[field])
      })
    }
    const approved = new Set<string>()
    p.routes.forEach((r, i) => {
      const k = `${r.peerId} ${r.route}`
      if (approved.has(k)) {
        ctx.addIssue({ code: 'custom', path: ['routes', i], message: `duplicate approval '${r.route}'` })
      }
      approved.add(k)
    })
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
export type MemberBinding = z.infer<typeof memberBindingSchema>
export type AutoApprove = z.infer<typeof autoApproveSchema>
export type RouteApproval = z.infer<typeof routeApprovalSchema>
export type RevokedKey = z.infer<typeof revokedKeySchema>
export type RevokedNode = z.infer<typeof revokedNodeSchema>
export type Policy = z.infer<typeof policySchema>
export type Admins = z.infer<typeof adminsSchema>

const ADMINS_DOMAIN = 'meshlan/admins/v1\n'

/** What the owner signs for an admin certificate: domain, network, epoch, the sorted node ids. */
export function adminsSigningBytes(networkId: string, epoch: number, nodes: readonly string[]): Uint8Array {
  return new TextEncoder().encode(`${ADMINS_DOMAIN}${networkId}\n${epoch}\n${[...nodes].sort().join('\n')}`)
}

/** The owner's certificate for `nodes` at `epoch` (nodes sorted, unique). */
export async function signAdmins(
  ownerKey: PrivateKey,
  networkId: string,
  epoch: number,
  nodes: readonly string[],
): Promise<Admins> {
  const sorted = [...new Set(nodes)].sort()
  const sig = await ownerKey.sign(adminsSigningBytes(networkId, epoch, sorted))
  return { epoch, nodes: sorted, sig: toBase64(sig) }
}

/** Whether `admins` carries the owner's valid signature for `networkId`. Never throws. */
export async function verifyAdmins(
  admins: Admins,
  networkId: string,
  ownerPublicKey: PublicKey,
): Promise<boolean> {
  const sig = fromBase64(admins.sig)
  if (sig == null || sig.length !== 64) return false
  try {
    return (
      (await ownerPublicKey.verify(adminsSigningBytes(networkId, admins.epoch, admins.nodes), sig)) === true
    )
  } catch {
    return false
  }
}

/** The admin epoch a policy is under (0: no delegated admins ever). */
export function adminEpoch(p: Policy): number {
  return p.admins?.epoch ?? 0
}

/**
 * A policy from the network, with who signed it: the owner (its signature is checked before any
 * schema work), or — only when the owner's signature does not verify — a delegated admin named in
 * the policy's own owner-signed certificate. `reason: 'signature'` when neither signed it.
 */
export async function decodeNetworkPolicy(
  bytes: Uint8Array,
  ownerPublicKey: PublicKey,
): Promise<
  | { ok: true; value: Signed<Policy>; signer: 'owner' | string }
  | { ok: false; reason: string }
  | { ok: false; reason: 'signature' }
> {
  const outer = openOuterEnvelope(bytes, POLICY_TYPE, MAX_POLICY_BYTES)
  if (!outer.ok) return outer
  const signed = { type: POLICY_TYPE, ...outer.value }
  const full = (signer: string) => {
    const d = decodePolicy(bytes)
    return d.ok ? { ok: true as const, value: d.value, signer } : d
  }
  if (await verifySigned(signed, ownerPublicKey)) return full('owner')
  // Not the owner's. Before any schema work on the document, only its certificate is read (a small
  // object), checked against the owner's key, and the envelope against the few nodes it names: a
  // member that is no admin still cannot buy schema work on a document it signed.
  const json = parseJsonBytes(outer.value.payload) as { admins?: unknown; networkId?: unknown } | undefined
  const cert = adminsSchema.safeParse(json?.admins)
  if (!cert.success || typeof json?.networkId !== 'string') return { ok: false, reason: 'signature' }
  if (!(await verifyAdmins(cert.data, json.networkId, ownerPublicKey)))
    return { ok: false, reason: 'signature' }
  for (const id of cert.data.nodes) {
    const pub = publicKeyFromPeerId(id)
    if (pub.ok && (await verifySigned(signed, pub.value))) return full(id)
  }
  return { ok: false, reason: 'signature' }
}

/** Sign a policy with the owner's private key. Throws InvalidMessageError on a bad policy or > 256 KiB. */
export function encodePolicy(policy: Policy, ownerKey: PrivateKey): Promise<Uint8Array> {
  return sealEnvelope(POLICY_TYPE, policySchema, policy, ownerKey, MAX_POLICY_BYTES)
}

/** Parse and schema-check a policy envelope (signature not checked). Never throws. */
export function decodePolicy(bytes: Uint8Array): Result<Signed<Policy>> {
  return openEnvelope(bytes, POLICY_TYPE, policySchema, MAX_POLICY_BYTES)
}

/**
 * The owner's signature first, then the schema: what a receiver does with a policy from the
 * network, so a document the owner did not sign costs one Ed25519 verify and no schema work.
 * `ok: false` with reason `'signature'` when the signature is not the owner's. Never throws.
 */
export async function decodeOwnerPolicy(
  bytes: Uint8Array,
  ownerPublicKey: PublicKey,
): Promise<Result<Signed<Policy>> | { ok: false; reason: 'signature' }> {
  const outer = openOuterEnvelope(bytes, POLICY_TYPE, MAX_POLICY_BYTES)
  if (!outer.ok) return outer
  const signed = { type: POLICY_TYPE, ...outer.value }
  if (!(await verifySigned(signed, ownerPublicKey))) return { ok: false, reason: 'signature' }
  return decodePolicy(bytes)
}

/** Check the policy signature against the owner's public key (e.g. `publicKeyFromPeerId(owner)`). */
export function verifyPolicy(signed: Signed<Policy>, ownerPublicKey: PublicKey): Promise<boolean> {
  return verifySigned(signed, ownerPublicKey)
}
