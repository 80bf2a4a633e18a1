/**
 * Forwarding a query to the upstreams in order, as a stub resolver does: a SERVFAIL, REFUSED or
 * NOTIMP from one upstream means try the next (the last such answer is relayed if none does
 * better); a TCP query falls back to UDP for an upstream that does not take TCP. At most
 * `maxInflight` forwards run at once: the caller answers SERVFAIL when `full()`.
 */

import type { NoisyLog } from './log.ts'
import { RCODE } from './responses.ts'
import { formatUpstream, forwardTcp, forwardUdp, type Result, type Upstream } from './upstream.ts'

export interface Forwarder {
  /** True when `maxInflight` forwards are running. */
  full(): boolean
  readonly inflight: number
  /** The upstream answer to relay, or null when every upstream failed. Never throws. */
  forward(wire: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | null>
}

export function createForwarder(
  init: { timeoutMs: number; maxInflight: number },
  c: { upstreams: () => readonly Upstream[]; noisy: NoisyLog },
): Forwarder {
  let inflight = 0
  return {
    full: () => inflight >= init.maxInflight,
    get inflight() {
      return inflight
    },
    async forward(wire, transport) {
      inflight++
      try {
        let fallback: Buffer | null = null
        for (const up of c.upstreams().slice()) {
          let r: Result<Buffer> =
            transport === 'tcp'
              ? await forwardTcp(up, wire, init.timeoutMs)
              : await forwardUdp(up, wire, init.timeoutMs)
          if (!r.ok && transport === 'tcp') r = await forwardUdp(up, wire, init.timeoutMs)
          if (!r.ok) {
            c.noisy('upstream failed', { upstream: formatUpstream(up), reason: r.reason })
            continue
          }
          const rcode = r.value[3] & 0x0f
          if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED || rcode === RCODE.NOTIMP) {
            fallback = r.value
            continue
          }
          return r.value
        }
        return fallback
      } finally {
        inflight--
      }
    },
  }
}
