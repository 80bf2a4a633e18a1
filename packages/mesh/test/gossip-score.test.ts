/**
 * Our gossipsub patch: the peer score's decay runs inside the heartbeat when both have the same
 * period (GOSSIP_HEARTBEAT_MS), so an idle node wakes once per heartbeat for gossipsub instead of
 * twice (issue 14, idle CPU). Contract: the score starts no interval of its own, and a penalty still decays every
 * heartbeat. If a gossipsub upgrade drops the patch, the first assertion fails; if the heartbeat
 * stops driving the decay, the second does.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { GOSSIP_HEARTBEAT_MS, GOSSIP_HISTORY_GOSSIP, GOSSIP_IDONTWANT_MIN_BYTES } from '../src/constants.ts'
import { gossipFastId } from '../src/gossip-id.ts'
import { createTransport } from '../src/transport.ts'
import { recordIntervals } from './helpers.ts'

interface ScoreLike {
  addPeer(id: string): void
  addIP(id: string, ip: string): void
  addPenalty(id: string, penalty: number, label: string): void
  params: { decayInterval: number }
}

interface PubsubLike {
  getScore(id: string): number
  score: ScoreLike
  opts: {
    heartbeatInterval: number
    mcacheGossip: number
    idontwantMinDataSize: number
    fastMsgIdFn: unknown
  }
}

/** A started node and its gossipsub, whose score the tests read (not in gossipsub's typed API). */
async function started(): Promise<{ stop(): Promise<void>; pubsub: PubsubLike }> {
  const node = await createTransport({
    privateKey: await generateKeyPair('Ed25519'),
    networkId: 'scoretest',
    listen: [],
  })
  await node.start()
  return { stop: async () => node.stop(), pubsub: node.services.pubsub as unknown as PubsubLike }
}

describe('gossipsub peer score: decay in the heartbeat (our patch), no IP colocation penalty', () => {
  it('starts no decay interval of its own; a behaviour penalty still decays every heartbeat', async () => {
    const { value: node, intervals } = await recordIntervals(started)
    try {
      const { pubsub } = node
      assert.equal(pubsub.score.params.decayInterval, GOSSIP_HEARTBEAT_MS, 'the periods this relies on')
      const own = intervals.filter((s) => /peer-score/.test(s))
      assert.deepEqual(own, [], 'the peer score started its own interval: the gossipsub patch is gone')
      // a penalty of 2 scores (2 - 0)² × -10 = -40; each decay multiplies the penalty by
      // GOSSIP_BEHAVIOUR_PENALTY_DECAY (0.2 per second of heartbeat)
      pubsub.score.addPeer('peer-a')
      pubsub.score.addPenalty('peer-a', 2, 'test')
      const before = pubsub.getScore('peer-a')
      assert.ok(before <= -39, `penalised score ${before}`)
      await new Promise((r) => setTimeout(r, GOSSIP_HEARTBEAT_MS * 2.5))
      const after = pubsub.getScore('peer-a')
      assert.ok(after > -2, `after two heartbeats the penalty should have decayed: ${after}`)
    } finally {
      await node.stop()
    }
  })

  it('heartbeat, IHAVE window and IDONTWANT size are ours, not the defaults (issue 14: idle wake-ups)', async () => {
    // gossipsub's public, resolved options: a renamed option would fall back to its default
    // (1 s, three heartbeats, 512 bytes) without a type error in a partial options object
    const node = await started()
    try {
      const { opts } = node.pubsub
      assert.equal(opts.heartbeatInterval, GOSSIP_HEARTBEAT_MS)
      assert.equal(opts.mcacheGossip, GOSSIP_HISTORY_GOSSIP)
      assert.equal(opts.idontwantMinDataSize, GOSSIP_IDONTWANT_MIN_BYTES)
      assert.equal(opts.fastMsgIdFn, gossipFastId, 'copies of a seen message skip the signature check')
    } finally {
      await node.stop()
    }
  })

  it('does not penalise members that share an IP (one household NAT, one relay)', async () => {
    // gossipsub's default scored more than 10 peers behind one IP at (n - 10)² × -5: 15 members
    // behind one home router (or relayed by one member relay, whose address their connections
    // carry) scored -125, below the graylist threshold (-80), and everything they gossiped
    // (a revocation the owner published among them) was ignored
    const node = await started()
    try {
      const { pubsub } = node
      for (let i = 0; i < 15; i++) {
        pubsub.score.addPeer(`peer-${i}`)
        pubsub.score.addIP(`peer-${i}`, '198.51.100.7')
      }
      const scores = Array.from({ length: 15 }, (_, i) => pubsub.getScore(`peer-${i}`))
      assert.deepEqual(
        scores.filter((x) => x < 0),
        [],
        `members behind one IP were penalised: ${scores.join(' ')}`,
      )
    } finally {
      await node.stop()
    }
  })
})

describe('gossipFastId', () => {
  const from = Uint8Array.from([0, 36, 8, 1, 18, 32, ...Array(32).fill(7)])
  const seqno = Uint8Array.from([0, 0, 1, 2, 3, 4, 5, 6])
  it('is the publisher and sequence number: equal for copies, different when either differs', () => {
    const id = gossipFastId({ from, seqno, data: Uint8Array.of(1) } as never)
    assert.equal(
      gossipFastId({ from: from.slice(), seqno: seqno.slice() }),
      id,
      'a copy (other bytes, other data)',
    )
    assert.notEqual(gossipFastId({ from, seqno: Uint8Array.from([0, 0, 1, 2, 3, 4, 5, 7]) }), id)
    assert.notEqual(gossipFastId({ from: Uint8Array.from([...from.slice(0, -1), 8]), seqno }), id)
  })
  it('reads subarrays at their offset, and gives no id worth caching without both fields', () => {
    const big = new Uint8Array(100)
    big.set(seqno, 50)
    assert.equal(gossipFastId({ from, seqno: big.subarray(50, 58) }), gossipFastId({ from, seqno }))
    assert.equal(gossipFastId({ seqno }), '')
    assert.equal(gossipFastId({ from }), '')
  })
})
