/**
 * The sync protocol (`/meshlan/sync/2.0.0`): how a newcomer gets the policy and the member
 * records it missed on gossip, and how two members reconcile when they connect.
 *
 * One exchange per stream, each message length-prefixed (unsigned varint) UTF-8 JSON:
 *   client → server  { v: 2, record: base64 | null, have: { [peerId]: seq }, policyVersion? }
 *                      (at most MAX_SYNC_REQUEST bytes: the records the client holds, for
 *                      anti-entropy, and the version of the policy it holds, if any)
 *   server → client  { v: 2, ok: true, policy: base64 | null, records: base64[] }   (only records
 *                      newer than the client's `have`; policy null when the client said it holds
 *                      the server's version or a newer one — a client that says nothing always
 *                      gets it, so nodes from before `policyVersion` still read every answer)
 *                  | { v: 2, ok: false, reason }
 * Only peers the membership gate admitted reach the server at all (the handler is gated), so the
 * request carries no proof of its own. Everything received is validated exactly like gossip;
 * nothing is trusted because it came over sync.
 */
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { fromBase64, type Result, toBase64 } from '@meshlan/wire'
import { z } from 'zod'

/** Largest response: the policy (≤ 256 KiB) and up to ~1000 member records of a few KiB. */
export const MAX_SYNC_MESSAGE = 4 * 1024 * 1024
/** Largest request: one record (≤ 16 KiB, base64) and a digest of ~1000 `{peerId: seq}` pairs. */
export const MAX_SYNC_REQUEST = 256 * 1024
/** Opening the sync stream, then one exchange, must each finish within this (a relayed newcomer's first sync included). */
export const SYNC_TIMEOUT_MS = 10_000

const requestSchema = z.object({
  v: z.literal(2),
  record: z
    .string()
    .max(64 * 1024)
    .nullable(),
  have: z.record(z.string().max(128), z.number().int().nonnegative()).optional(),
  policyVersion: z.number().int().nonnegative().optional(),
  policyEpoch: z.number().int().nonnegative().optional(),
})
const responseSchema = z.union([
  z.object({
    v: z.literal(2),
    ok: z.literal(true),
    policy: z.string().max(MAX_SYNC_MESSAGE).nullable(),
    records: z.array(z.string().max(64 * 1024)).max(16384),
  }),
  z.object({ v: z.literal(2), ok: z.literal(false), reason: z.string().max(1024) }),
])

export interface SyncRequest {
  record: Uint8Array | null
  /** peerId → seq of the records the client holds */
  have?: Record<string, number>
  /** The version of the policy the client holds: the server leaves out a policy that is not newer. */
  policyVersion?: number
  /**
   * The admin epoch of that policy (delegated admins): a higher epoch is newer whatever the version.
   * Absent (older nodes): 0, so such a client is sent any policy of a later epoch.
   */
  policyEpoch?: number
}
export type SyncResponse =
  /** policy null: the client holds this version or a newer one already (it said so). */
  { ok: true; policy: Uint8Array | null; records: Uint8Array[] } | { ok: false; reason: string }

function encode(obj: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(obj))
}

function parseJsonBytes(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return undefined
  }
}

/** The request's bytes (without the length prefix). */
export function encodeSyncRequest(req: SyncRequest): Uint8Array {
  return encode({
    v: 2,
    record: req.record == null ? null : toBase64(req.record),
    have: req.have ?? {},
    ...(req.policyVersion == null ? {} : { policyVersion: req.policyVersion }),
    ...(req.policyEpoch == null ? {} : { policyEpoch: req.policyEpoch }),
  })
}

/**
 * Parses a request (without the length prefix). Pure, never throws: the server and the fuzzer
 * (packages/wire/bench/fuzz-all.ts) call this one function. A `record` that is not canonical
 * base64 reads as no record.
 */
export function parseSyncRequest(bytes: Uint8Array): Result<SyncRequest> {
  const parsed = requestSchema.safeParse(parseJsonBytes(bytes))
  if (!parsed.success) return { ok: false, reason: 'malformed sync request' }
  const record = parsed.data.record == null ? null : fromBase64(parsed.data.record)
  const { policyVersion, policyEpoch } = parsed.data
  return {
    ok: true,
    value: {
      record,
      have: parsed.data.have ?? {},
      ...(policyVersion == null ? {} : { policyVersion }),
      ...(policyEpoch == null ? {} : { policyEpoch }),
    },
  }
}

/** The response's bytes (without the length prefix). */
export function encodeSyncResponse(res: SyncResponse): Uint8Array {
  return encode(
    res.ok
      ? {
          v: 2,
          ok: true,
          policy: res.policy == null ? null : toBase64(res.policy),
          records: res.records.map(toBase64),
        }
      : { v: 2, ok: false, reason: res.reason },
  )
}

/**
 * Parses a response (without the length prefix). Pure, never throws. `{ ok: false }` means the
 * bytes are malformed; a well-formed refusal is `{ ok: true, value: { ok: false, reason } }`.
 * Records that are not canonical base64 are left out.
 */
export function parseSyncResponse(bytes: Uint8Array): Result<SyncResponse> {
  const parsed = responseSchema.safeParse(parseJsonBytes(bytes))
  if (!parsed.success) return { ok: false, reason: 'malformed sync response' }
  const res = parsed.data
  if (!res.ok) return { ok: true, value: { ok: false, reason: res.reason } }
  const policy = res.policy == null ? null : fromBase64(res.policy)
  if (res.policy != null && policy == null) return { ok: false, reason: 'malformed policy in sync response' }
  const records: Uint8Array[] = []
  for (const r of res.records) {
    const b = fromBase64(r)
    if (b != null) records.push(b)
  }
  return { ok: true, value: { ok: true, policy, records } }
}

export async function syncClient(stream: Stream, req: SyncRequest): Promise<SyncResponse> {
  const lp = lpStream(stream, { maxDataLength: MAX_SYNC_MESSAGE })
  const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
  await lp.write(encodeSyncRequest(req), { signal })
  const raw = await lp.read({ signal })
  await stream.close().catch(() => {})
  const parsed = parseSyncResponse(raw.subarray())
  return parsed.ok ? parsed.value : { ok: false, reason: parsed.reason }
}

/**
 * Serves one sync exchange. `answer` decides membership and builds the response; it gets the
 * parsed request (or null when it was malformed).
 */
export async function syncServer(
  stream: Stream,
  answer: (req: SyncRequest | null) => Promise<SyncResponse>,
): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_SYNC_REQUEST })
  const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
  const raw = await lp.read({ signal })
  const parsed = parseSyncRequest(raw.subarray())
  const res = await answer(parsed.ok ? parsed.value : null)
  await lp.write(encodeSyncResponse(res), { signal })
  await stream.close().catch(() => {})
}
