/**
 * Building responses with dns2's `Packet`. A response dns2 cannot encode (a NameSource surprise, a
 * dns2 limit) falls back to a bare 12-byte header with a fallback rcode: something always goes back.
 */
import type dns2 from 'dns2'
import { Packet } from 'dns2'
import {
  DNS_HEADER_BYTES,
  MESH_DOMAIN,
  OUR_UDP_PAYLOAD,
  SOA_EXPIRE_S,
  SOA_REFRESH_S,
  SOA_RETRY_S,
} from './constants.ts'
import type { NoisyLog } from './log.ts'
import { TYPE_SOA } from './zone.ts'

export const RCODE = Packet.RCODE
export const TYPE_OPT = Packet.TYPE.EDNS

/** A 12-byte response header with no sections, for when nothing better can be built. */
export function bareResponse(query: Buffer, rcode: number, ra: boolean): Buffer {
  const out = Buffer.alloc(DNS_HEADER_BYTES)
  query.copy(out, 0, 0, 2)
  const opcode = (query[2] >> 3) & 0x0f
  const rd = query[2] & 0x01
  out[2] = 0x80 | (opcode << 3) | rd
  out[3] = (ra ? 0x80 : 0) | (rcode & 0x0f)
  return out
}

export interface Responses {
  /** A response to `request`: `rcode`, its first question, and our OPT when it sent one. */
  newResponse(request: dns2.Packet, rcode: number): dns2.Packet
  /** The `.mesh` SOA, sent with negative answers (its minimum is the negative TTL). */
  soaRecord(): dns2.Packet.Resource
  /** Serialises `build()`; if dns2 cannot, a bare header with `fallbackRcode` (null without a query header). */
  encode(raw: Buffer | null, build: () => dns2.Packet, fallbackRcode: number): Buffer | null
}

function errorCode(err: unknown): string {
  return (err as { code?: string })?.code ?? (err instanceof Error ? err.name : 'error')
}

export function createResponses(
  init: { negativeTtl: number },
  c: { recursionAvailable: () => boolean; noisy: NoisyLog },
): Responses {
  const soaRecord = (): dns2.Packet.Resource =>
    ({
      name: MESH_DOMAIN,
      type: TYPE_SOA,
      class: Packet.CLASS.IN,
      ttl: init.negativeTtl,
      primary: MESH_DOMAIN,
      admin: `hostmaster.${MESH_DOMAIN}`,
      serial: 1,
      refresh: SOA_REFRESH_S,
      retry: SOA_RETRY_S,
      expiration: SOA_EXPIRE_S,
      minimum: init.negativeTtl,
    }) as dns2.Packet.Resource

  const newResponse = (request: dns2.Packet, rcode: number): dns2.Packet => {
    const response = Packet.createResponseFromRequest(request)
    response.header.rcode = rcode
    response.header.ra = c.recursionAvailable() ? 1 : 0
    response.questions = request.questions.slice(0, 1)
    if (request.additionals.some((r) => r?.type === TYPE_OPT)) {
      response.additionals.push(
        Packet.Resource.EDNS([], { udpPayloadSize: OUR_UDP_PAYLOAD }) as unknown as dns2.Packet.Resource,
      )
    }
    return response
  }

  const encode = (raw: Buffer | null, build: () => dns2.Packet, fallbackRcode: number): Buffer | null => {
    try {
      return build().toBuffer()
    } catch (err) {
      c.noisy('response not encodable', { reason: errorCode(err) })
      return raw != null && raw.length >= DNS_HEADER_BYTES
        ? bareResponse(raw, fallbackRcode, c.recursionAvailable())
        : null
    }
  }

  return { newResponse, soaRecord, encode }
}
