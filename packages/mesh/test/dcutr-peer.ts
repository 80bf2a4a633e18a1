/** A DCUtR peer that writes the protocol by hand, as a hostile (or IPv6-offering) member would. */
import assert from 'node:assert/strict'
import type { Connection } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { DCUTR_CONNECT, DCUTR_SYNC, decodeHolePunch, encodeHolePunch, MAX_DCUTR_MESSAGE } from '@meshlan/wire'
import { multiaddr } from '@multiformats/multiaddr'
import { DCUTR_PROTOCOL } from '../src/reachability/constants.ts'

/** B's side of one exchange, as a hostile member writes it: CONNECT with `addrs`, then SYNC. */
export async function connectExchange(conn: Connection, addrs: string[]): Promise<void> {
  const stream = await conn.newStream(DCUTR_PROTOCOL, { runOnLimitedConnection: true })
  const lp = lpStream(stream, { maxDataLength: MAX_DCUTR_MESSAGE })
  const signal = AbortSignal.timeout(5000)
  await lp.write(encodeHolePunch({ type: DCUTR_CONNECT, obsAddrs: addrs.map((a) => multiaddr(a).bytes) }), {
    signal,
  })
  const reply = decodeHolePunch((await lp.read({ signal })).subarray())
  assert.ok(reply.ok && reply.value.type === DCUTR_CONNECT)
  await lp.write(encodeHolePunch({ type: DCUTR_SYNC, obsAddrs: [] }), { signal })
  await stream.close().catch(() => {})
}
