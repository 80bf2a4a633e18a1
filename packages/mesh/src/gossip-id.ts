/**
 * Gossipsub's fast message id (its `fastMsgIdFn` option): the publisher's peer id and sequence
 * number, as they arrive. Why: gossipsub checks a message's signature (StrictSign) before it asks
 * its seen cache, so every copy of a record — the publisher's flood copy and each mesh peer's
 * forward, ~4 per record per node — paid an Ed25519 verification: 8–9 % of an idle node's CPU at
 * 50 peers (docs/benchmarks.md, "Session 15"). With this id a copy of a message already
 * accepted is a duplicate at once. Gossipsub fills its fast-id cache only with messages that passed
 * validation, and its message id under StrictSign is the same pair (key and seqno), so what counts
 * as a duplicate does not change: a copy with a forged signature under a seen pair is dropped as a
 * duplicate instead of as invalid (it is not delivered or forwarded either way).
 */
export function gossipFastId(msg: { from?: Uint8Array; seqno?: Uint8Array }): string {
  // unsigned or malformed messages fail validation and never enter the cache: any id will do
  if (msg.from == null || msg.seqno == null) return ''
  return `${hex(msg.from)}/${hex(msg.seqno)}`
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}
