/**
 * Our yamux patch builds a frame's debug object only when the muxer's trace log is on
 * (`log.trace.enabled`). Contract: the logger libp2p gives its components has that property, off
 * unless DEBUG asks for it — if a libp2p upgrade drops it, the guard would go back to building an
 * object for every frame sent and received, and this fails.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createTransport } from '../src/transport.ts'

describe('yamux trace logging (our patch)', () => {
  it('the muxer’s trace logger says whether it is on: off by default', {
    skip: process.env.DEBUG != null ? 'DEBUG is set' : false,
  }, async () => {
    const node = await createTransport({
      privateKey: await generateKeyPair('Ed25519'),
      networkId: 'tracetest',
      listen: [],
    })
    try {
      const trace = node.logger.forComponent('libp2p:yamux').trace as unknown as { enabled?: unknown }
      assert.equal(trace.enabled, false)
    } finally {
      await node.stop()
    }
  })
})
