/**
 * Control messages carried in type-2 frames: UTF-8 JSON, at most MAX_CONTROL_BYTES.
 */
import { z } from 'zod'
import { CONTROL_VERSION, FRAME_TYPE_CONTROL, MAX_CONTROL_BYTES } from './constants.ts'
import { parseJsonBytes, utf8 } from './encoding.ts'
import { InvalidMessageError } from './errors.ts'
import { networkIdSchema, peerIdSchema, zodReason } from './fields.ts'
import { encodeFrame } from './frame.ts'
import { fail, ok, type Result } from './result.ts'

const codeSchema = z.string().min(1).max(64)
const reasonSchema = z.string().max(1024)

export const controlMessageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('hello'),
    v: z.literal(CONTROL_VERSION),
    networkId: networkIdSchema,
    peerId: peerIdSchema,
  }),
  z.object({ t: z.literal('refuse'), code: codeSchema, reason: reasonSchema }),
  z.object({ t: z.literal('close'), code: codeSchema, reason: reasonSchema }),
])

/** `{t:'hello', v:1, networkId, peerId}` | `{t:'refuse', code, reason}` | `{t:'close', code, reason}`. */
export type ControlMessage = z.infer<typeof controlMessageSchema>
export type HelloMessage = Extract<ControlMessage, { t: 'hello' }>
export type RefuseMessage = Extract<ControlMessage, { t: 'refuse' }>
export type CloseMessage = Extract<ControlMessage, { t: 'close' }>

/** Encode a control message payload (no frame header). Throws InvalidMessageError on a bad message. */
export function encodeControl(msg: ControlMessage): Uint8Array {
  const parsed = controlMessageSchema.safeParse(msg)
  if (!parsed.success)
    throw new InvalidMessageError('control message', zodReason('control message', parsed.error))
  const bytes = utf8(JSON.stringify(parsed.data))
  if (bytes.length > MAX_CONTROL_BYTES) {
    throw new InvalidMessageError('control message', `${bytes.length} bytes exceeds ${MAX_CONTROL_BYTES}`)
  }
  return bytes
}

/** Encode a control message as a complete type-2 frame (header + payload). */
export function encodeControlFrame(msg: ControlMessage): Uint8Array {
  return encodeFrame(FRAME_TYPE_CONTROL, encodeControl(msg))
}

/** Decode a control payload. Never throws. */
export function decodeControl(bytes: Uint8Array): Result<ControlMessage> {
  if (bytes.length > MAX_CONTROL_BYTES) {
    return fail(`control message of ${bytes.length} bytes exceeds ${MAX_CONTROL_BYTES}`)
  }
  const json = parseJsonBytes(bytes)
  if (json === undefined) return fail('control message is not UTF-8 JSON')
  const parsed = controlMessageSchema.safeParse(json)
  if (!parsed.success) return fail(zodReason('control message', parsed.error))
  return ok(parsed.data)
}
