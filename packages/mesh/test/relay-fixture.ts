/**
 * A member relay and members over real loopback TCP, bare libp2p nodes built by createTransport
 * (no membership gate: every node counts as a member), for the relay adapter's contract test and
 * the relay governor's tests. Every member reserves on the relay; `circuit()` dials one member from
 * another through it; `blast()` sends as fast as the circuit takes for a while; each member counts
 * what arrives per sender on the sink protocol.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createLogger } from '../src/logger.ts'
import { adapterOf } from '../src/reachability/libp2p-adapter.ts'
import { RelayGovernor, type RelayGovernorInit } from '../src/reachability/relay-governor.ts'
import { createTransport, type MeshLibp2p } from '../src/transport.ts'

export const SINK = '/meshlan/test/relay-sink/1.0.0'
const CHUNK = new Uint8Array(64 * 1024)

export interface RelayFixture {
  relay: MeshLibp2p
  members: MeshLibp2p[]
  governor: RelayGovernor | null
  /** Bytes each member received on the sink, by sender peer id. */
  received(member: MeshLibp2p, from?: MeshLibp2p): number
  circuit(from: MeshLibp2p, to: MeshLibp2p): Promise<Connection>
  stop(): Promise<void>
}

/** `governor`: run one on the relay with these limits (its gater asks it), or none. */
export async function relayFixture(
  members: number,
  governor?: Omit<RelayGovernorInit, 'streams' | 'log'>,
): Promise<RelayFixture> {
  let gov: RelayGovernor | null = null
  const relay = await createTransport({
    privateKey: await generateKeyPair('Ed25519'),
    networkId: 'relaytest',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    gater: {
      deny: () => false,
      isMember: () => true,
      relayRefusal: (s, d) => gov?.refusal(s.toString(), d.toString()) ?? null,
    },
    relayServer: true,
  })
  await relay.start()
  if (governor != null) {
    gov = new RelayGovernor({
      ...governor,
      streams: () => adapterOf(relay).relayStreams(),
      log: createLogger('relay-gov', { level: 'error' }),
    })
    gov.start()
  }
  const counts = new Map<MeshLibp2p, Map<string, number>>()
  const nodes: MeshLibp2p[] = []
  for (let i = 0; i < members; i++) {
    const lp = await createTransport({
      privateKey: await generateKeyPair('Ed25519'),
      networkId: 'relaytest',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      gater: { deny: () => false, isMember: () => true },
    })
    const got = new Map<string, number>()
    counts.set(lp, got)
    await lp.handle(
      SINK,
      (stream, conn) => {
        const from = conn.remotePeer.toString()
        stream.addEventListener('message', (evt) => got.set(from, (got.get(from) ?? 0) + evt.data.byteLength))
      },
      { runOnLimitedConnection: true },
    )
    await lp.start()
    await lp.dial(relay.getMultiaddrs()[0])
    await adapterOf(lp).reserveOn(relay.peerId.toString())
    nodes.push(lp)
  }
  const relayAddr = relay.getMultiaddrs()[0].toString()
  return {
    relay,
    members: nodes,
    get governor() {
      return gov
    },
    received(member, from) {
      const got = counts.get(member) ?? new Map<string, number>()
      if (from != null) return got.get(from.peerId.toString()) ?? 0
      let sum = 0
      for (const v of got.values()) sum += v
      return sum
    },
    circuit: (from, to) =>
      from.dial(multiaddr(`${relayAddr}/p2p-circuit/p2p/${to.peerId.toString()}`), {
        signal: AbortSignal.timeout(5000),
      }),
    async stop() {
      gov?.stop()
      for (const n of [...nodes, relay]) await Promise.resolve(n.stop()).catch(() => {})
    },
  }
}

/**
 * Sends on a new sink stream of `conn` as fast as it takes until `ms` passed, `maxBytes` went out,
 * or the stream died; resolves with the bytes handed over and the error that ended it, if any.
 */
export async function blast(
  conn: Connection,
  ms: number,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<{ sent: number; error: Error | null }> {
  const stream = await conn.newStream(SINK, {
    runOnLimitedConnection: true,
    signal: AbortSignal.timeout(5000),
  })
  const end = Date.now() + ms
  let sent = 0
  let error: Error | null = null
  stream.addEventListener('close', (evt) => {
    error ??= evt.error ?? new Error('stream closed')
  })
  while (Date.now() < end && error == null && sent < maxBytes) {
    try {
      if (!stream.send(CHUNK)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(0, end - Date.now()))
          const done = () => {
            clearTimeout(t)
            resolve()
          }
          stream.addEventListener('drain', done, { once: true })
          stream.addEventListener('close', done, { once: true })
        })
      }
      sent += CHUNK.byteLength
    } catch (err) {
      error = err as Error
    }
  }
  if (error == null) await stream.close().catch(() => {})
  return { sent, error }
}
