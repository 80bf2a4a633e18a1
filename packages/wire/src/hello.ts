/**
 * The membership handshake (`/meshlan/hello/1.0.0`), byte format. docs/protocol.md has the rules.
 *
 * Each message travels length-prefixed (unsigned varint) and is at most MAX_HELLO_BYTES:
 *   offer   [version u8 = 1][kind u8][claim envelope …]   kind 0: "I am the owner" (no claim)
 *                                                         kind 1: a claim envelope follows
 *   answer  [version u8 = 1][status u8][…]                status 0: admitted, then kind u8 + claim
 *                                                         (the answerer's own proof), as in offer
 *                                                         status 1: refused, then a UTF-8 reason
 * The dialler offers first; the listener reveals nothing (not even its claim) until the offer
 * proved membership.
 */
import { HELLO_VERSION, MAX_HELLO_BYTES, MAX_HELLO_REASON_BYTES } from './constants.ts'
import { fail, ok, type Result } from './result.ts'

export const HELLO_KIND_OWNER = 0
export const HELLO_KIND_CLAIM = 1
export const HELLO_ADMITTED = 0
export const HELLO_REFUSED = 1

/** A proof of membership: the owner (by its peer id) or a claim envelope. */
export type HelloProof = { kind: 'owner' } | { kind: 'claim'; claim: Uint8Array }

export type HelloAnswer = { admitted: true; proof: HelloProof } | { admitted: false; reason: string }

function proofBytes(head: number[], proof: HelloProof): Uint8Array {
  const claim = proof.kind === 'claim' ? proof.claim : new Uint8Array(0)
  const out = new Uint8Array(head.length + 1 + claim.length)
  out.set(head, 0)
  out[head.length] = proof.kind === 'claim' ? HELLO_KIND_CLAIM : HELLO_KIND_OWNER
  out.set(claim, head.length + 1)
  if (out.length > MAX_HELLO_BYTES) throw new RangeError(`hello message over ${MAX_HELLO_BYTES} bytes`)
  return out
}

function parseProof(bytes: Uint8Array, at: number): Result<HelloProof> {
  if (bytes.length <= at) return fail('hello: missing proof kind')
  const kind = bytes[at]
  if (kind === HELLO_KIND_OWNER) {
    if (bytes.length !== at + 1) return fail('hello: owner proof carries bytes')
    return ok({ kind: 'owner' })
  }
  if (kind === HELLO_KIND_CLAIM) {
    if (bytes.length === at + 1) return fail('hello: empty claim')
    return ok({ kind: 'claim', claim: bytes.subarray(at + 1) })
  }
  return fail(`hello: unknown proof kind ${kind}`)
}

function checkHead(bytes: Uint8Array): string | null {
  if (bytes.length > MAX_HELLO_BYTES) return `hello: message over ${MAX_HELLO_BYTES} bytes`
  if (bytes.length < 2) return 'hello: message too short'
  if (bytes[0] !== HELLO_VERSION) return `hello: unsupported version ${bytes[0]}`
  return null
}

export function encodeHelloOffer(proof: HelloProof): Uint8Array {
  return proofBytes([HELLO_VERSION], proof)
}

/** Parses an offer. Never throws; the claim is a view into `bytes`. */
export function decodeHelloOffer(bytes: Uint8Array): Result<HelloProof> {
  const bad = checkHead(bytes)
  return bad != null ? fail(bad) : parseProof(bytes, 1)
}

export function encodeHelloAnswer(answer: HelloAnswer): Uint8Array {
  if (answer.admitted) return proofBytes([HELLO_VERSION, HELLO_ADMITTED], answer.proof)
  let reason = new TextEncoder().encode(answer.reason)
  if (reason.length > MAX_HELLO_REASON_BYTES) reason = reason.subarray(0, MAX_HELLO_REASON_BYTES)
  const out = new Uint8Array(2 + reason.length)
  out[0] = HELLO_VERSION
  out[1] = HELLO_REFUSED
  out.set(reason, 2)
  return out
}

/** Parses an answer. Never throws. */
export function decodeHelloAnswer(bytes: Uint8Array): Result<HelloAnswer> {
  const bad = checkHead(bytes)
  if (bad != null) return fail(bad)
  if (bytes[1] === HELLO_ADMITTED) {
    const proof = parseProof(bytes, 2)
    return proof.ok ? ok({ admitted: true, proof: proof.value }) : proof
  }
  if (bytes[1] === HELLO_REFUSED) {
    if (bytes.length - 2 > MAX_HELLO_REASON_BYTES) return fail('hello: refusal reason too long')
    let reason: string
    try {
      reason = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(2))
    } catch {
      return fail('hello: refusal reason is not UTF-8')
    }
    return ok({ admitted: false, reason })
  }
  return fail(`hello: unknown answer status ${bytes[1]}`)
}
