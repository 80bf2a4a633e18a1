/**
 * `record`: a node's self-description, signed by the node's own libp2p Ed25519 key.
 */
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { z } from 'zod'
import { cidrsOverlap, parseCidr } from './cidr.ts'
import {
  FORMAT_VERSION,
  MAX_CLAIM_BYTES,
  MAX_MULTIADDR_CHARS,
  MAX_RECORD_ADDRS,
  MAX_RECORD_BYTES,
  MAX_RECORD_LINKS,
  MAX_RECORD_RELAYS,
  MAX_RECORD_ROUTES,
  MIN_ROUTE_PREFIX,
  RESERVED_ROUTE_RANGES,
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

/** Result of `checkRoutePrefix`. */
export type RoutePrefixResult =
  | { ok: true; base: number; prefix: number; mask: number }
  | { ok: false; reason: string }

const RESERVED = RESERVED_ROUTE_RANGES.map((r) => {
  const c = parseCidr(r)
  if (!c.ok) throw new Error(`bad reserved range ${r}`)
  return { cidr: r, ...c }
})

/**
 * A routable prefix (record `routes`, policy approvals, autoApprove): canonical IPv4 CIDR (host
 * bits clear), prefix MIN_ROUTE_PREFIX-32, overlapping none of RESERVED_ROUTE_RANGES. Never throws.
 */
export function checkRoutePrefix(text: string): RoutePrefixResult {
  const c = parseCidr(text)
  if (!c.ok) return c
  if (c.ip !== c.base) {
    return { ok: false, reason: `'${text}' has host bits set: use the network address (e.g. ${baseText(c)})` }
  }
  if (c.prefix < MIN_ROUTE_PREFIX) {
    return {
      ok: false,
      reason: `'${text}' is wider than /${MIN_ROUTE_PREFIX}: advertise an exit node for a default route`,
    }
  }
  const bad = RESERVED.find((r) => cidrsOverlap(r, c))
  if (bad != null) return { ok: false, reason: `'${text}' overlaps the host-local block ${bad.cidr}` }
  return { ok: true, base: c.base, prefix: c.prefix, mask: c.mask }
}

function baseText(c: { base: number; prefix: number }): string {
  const b = c.base
  return `${b >>> 24}.${(b >>> 16) & 0xff}.${(b >>> 8) & 0xff}.${b & 0xff}/${c.prefix}`
}

/** A routable prefix as text (see checkRoutePrefix). */
export const routePrefixSchema = z.string().superRefine((s, ctx) => {
  const r = checkRoutePrefix(s)
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason })
})

/** No prefix twice in one list. */
function uniqueStrings(list: string[]): boolean {
  return new Set(list).size === list.length
}

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
  /** Prefixes this node offers to route (a subnet router); nothing is routed until the owner approves. */
  routes: z
    .array(routePrefixSchema)
    .max(MAX_RECORD_ROUTES)
    .refine(uniqueStrings, 'a route is listed twice')
    .default([]),
  /** The node offers to be an exit node (until the owner approves, nobody uses it). */
  exitNode: z.boolean().default(false),
  /** The meshlan version the node runs (status shows it; older nodes leave it out). */
  version: z
    .string()
    .regex(/^[0-9A-Za-z.+-]{1,32}$/, 'a version like 0.1.0')
    .optional(),
})

export type Link = z.infer<typeof linkSchema>
/**
 * A node record as built (`routes`/`exitNode` may be left out: they default); decoded records
 * always carry them.
 */
export type NodeRecord = z.input<typeof nodeRecordSchema>

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
