/**
 * Our gossipsub patch: the peer score's decay runs inside the heartbeat when both have the same
 * period (1 s), so an idle node wakes once a second for gossipsub instead of twice (issue 14, idle
 * CPU). Contract: the score starts no interval of its own, and a penalty still decays every
 * heartbeat. If a gossipsub upgrade drops the patch, the first assertion fails; if the heartbeat
 * stops driving the decay, the second does.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { GOSSIP_HEARTBEAT_MS } from '../src/constants.ts'
import { createTransport } from '../src/transport.ts'

interface ScoreLike {
  addPeer(id: string): void
  addPenalty(id: string, penalty: number, label: string): void
  params: { decayInterval: number }
}

describe('gossipsub peer score decays in the heartbeat (our patch)', () => {
  it('starts no decay interval of its own; a behaviour penalty still decays every heartbeat', async () => {
    const intervals: string[] = []
    const real = globalThis.setInterval
    globalThis.setInterval = ((fn: () => void, ms?: number) => {
      intervals.push(`${ms} ${new Error().stack ?? ''}`)
      return real(fn, ms)
    }) as typeof setInterval
    const node = await createTransport({
      privateKey: await generateKeyPair('Ed25519'),
      networkId: 'scoretest',
      listen: [],
    })
    try {
      await node.start()
      globalThis.setInterval = real
      const pubsub = node.services.pubsub as unknown as { getScore(id: string): number; score: ScoreLike }
      assert.equal(pubsub.score.params.decayInterval, GOSSIP_HEARTBEAT_MS, 'the periods this relies on')
      const own = intervals.filter((s) => /peer-score/.test(s))
      assert.deepEqual(own, [], 'the peer score started its own interval: the gossipsub patch is gone')
      // a penalty of 2 scores (2 - 0)² × -10 = -40; each decay multiplies it by 0.2
      pubsub.score.addPeer('peer-a')
      pubsub.score.addPenalty('peer-a', 2, 'test')
      const before = pubsub.getScore('peer-a')
      assert.ok(before <= -39, `penalised score ${before}`)
      await new Promise((r) => setTimeout(r, GOSSIP_HEARTBEAT_MS * 2.5))
      const after = pubsub.getScore('peer-a')
      assert.ok(after > -2, `after two heartbeats the penalty should have decayed (0.4 then 0.08): ${after}`)
    } finally {
      globalThis.setInterval = real
      await node.stop()
    }
  })
})
