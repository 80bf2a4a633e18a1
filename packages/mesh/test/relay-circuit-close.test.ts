/**
 * A relayed circuit whose far side goes away ends on the near side at once
 * (patches/@libp2p__circuit-relay-v2@*.patch, createLimitedRelay).
 *
 * The relay forwards a circuit with forward() in both directions; when the destination's
 * connection closed without an error (the peer stopped or restarted), both directions settled and
 * the source's hop stream was left open with nobody behind it: the member kept a dead relayed
 * connection, opened tunnel streams on it that timed out, and never redialled — until yamux's
 * keepalive gave up. Found in the UPnP NAT-lab test ("c → a direct after up", flaky since session 6).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { relayFixture } from './relay-fixture.ts'

/** How soon the near side must see the circuit end (the relay's reaction plus a round trip). */
const ENDS_WITHIN_MS = 3000

describe('a relayed circuit whose destination stops', () => {
  it('is closed on the source side within 3 s, not held until keepalive gives up', async (t) => {
    const fx = await relayFixture(2)
    t.after(() => fx.stop())
    const [a, b] = fx.members as [(typeof fx.members)[0], (typeof fx.members)[0]]
    const conn = await fx.circuit(a, b)
    assert.equal(conn.status, 'open')
    const t0 = Date.now()
    await b.stop()
    while (conn.status === 'open' && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20))
    const ms = Date.now() - t0
    assert.notEqual(
      conn.status,
      'open',
      'the relayed connection is still open 20 s after its far end stopped',
    )
    assert.ok(ms < ENDS_WITHIN_MS, `the relayed connection ended ${ms} ms after its far end stopped`)
    console.log(`# relayed connection ended ${ms} ms after the destination stopped`)
  })
})
