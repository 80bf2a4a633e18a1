/**
 * relay = "auto": when a node serves as a member relay (confirmations, expiry, failures, whom to
 * ask) and who counts as "outside" for a dial-back. Pure, with the clock passed in.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  DIALBACK_RESPONDER_WINDOW_MS,
  RELAY_CONFIRM_IDLE_MS,
  RELAY_CONFIRM_RETRY_MS,
  RELAY_CONFIRM_TTL_MS,
  RELAY_RECONFIRM_MS,
} from '../src/reachability/constants.ts'
import { ourSubnets, outsideMember } from '../src/reachability/dialback.ts'
import { RelayRole } from '../src/reachability/relay-role.ts'

describe('RelayRole', () => {
  it('true and false are what they say, and never ask anyone', () => {
    const on = new RelayRole(true)
    const off = new RelayRole(false)
    assert.equal(on.serving(0), true)
    assert.equal(off.serving(0), false)
    assert.equal(on.due(1e9), false)
    assert.equal(off.due(1e9), false)
    assert.match(on.status(0).reason, /relay = true/)
    assert.match(off.status(0).reason, /opted out/)
  })

  it('nextCheck: the next time a round can do anything, so an idle node need not look every second', () => {
    assert.equal(new RelayRole(true).nextCheck(0), Number.POSITIVE_INFINITY)
    const r = new RelayRole('auto')
    const t = 1_000_000
    assert.ok(r.nextCheck(t) <= t, 'unconfirmed, never asked: now')
    r.asking('m1', t)
    assert.equal(r.nextCheck(t), t + RELAY_CONFIRM_RETRY_MS, 'unconfirmed: the retry')
    assert.equal(r.due(r.nextCheck(t) - 1), false)
    assert.equal(r.due(r.nextCheck(t)), true)
    r.idle(t)
    assert.equal(r.nextCheck(t), t + RELAY_CONFIRM_IDLE_MS, 'nobody to ask: the quiet period')
    r.wake()
    r.confirm('m1', '/ip4/203.0.113.5/tcp/7946', t)
    assert.equal(r.nextCheck(t), t + RELAY_RECONFIRM_MS, 'serving: the re-confirmation')
    // a re-confirmation that never comes: serving must flip when the confirmation runs out, and
    // the round after it must be scheduled for that moment, not a retry period later
    r.asking('m2', t + RELAY_CONFIRM_TTL_MS - 1)
    assert.equal(r.nextCheck(t + RELAY_CONFIRM_TTL_MS - 1), t + RELAY_CONFIRM_TTL_MS)
    assert.equal(r.serving(t + RELAY_CONFIRM_TTL_MS), false)
  })

  it('auto: serves once an outside member dialled us back, until the confirmation expires', () => {
    const r = new RelayRole('auto')
    const t = 1_000_000
    assert.equal(r.serving(t), false)
    assert.match(r.status(t).reason, /no member outside our network has dialled us back yet/)
    assert.equal(r.due(t), true)
    assert.equal(r.confirm('m1', '/ip4/203.0.113.5/tcp/7946', t), true, 'serving changed')
    assert.equal(r.serving(t), true)
    assert.match(
      r.status(t + 12_000, () => 'relay1').reason,
      /relay1 dialled \/ip4\/203.0.113.5\/tcp\/7946 back 12 s ago/,
    )
    r.asking('m1', t)
    assert.equal(r.due(t + RELAY_CONFIRM_RETRY_MS), false, 'once serving, re-confirm rarely')
    assert.equal(r.due(t + RELAY_RECONFIRM_MS), true)
    assert.equal(r.serving(t + RELAY_CONFIRM_TTL_MS - 1), true)
    assert.equal(r.serving(t + RELAY_CONFIRM_TTL_MS), false, 'expired')
    assert.match(r.status(t + RELAY_CONFIRM_TTL_MS).reason, /expired/)
  })

  it('auto: two failed dial-backs in a row stop it at once; one is a blip', () => {
    const r = new RelayRole('auto')
    r.confirm('m1', '/ip4/203.0.113.5/tcp/7946', 0)
    assert.equal(r.fail('m2', 'no answer (dropped)', 10), false)
    assert.equal(r.serving(10), true)
    assert.equal(r.fail('m2', 'no answer (dropped)', 20), true)
    assert.equal(r.serving(20), false)
    assert.match(r.status(20).reason, /could not dial us back \(m2: no answer/)
    assert.equal(r.confirm('m1', '/ip4/203.0.113.5/tcp/7946', 30), true, 'serving again')
  })

  it('auto: a round with nobody to ask rests until a connection opens or RELAY_CONFIRM_IDLE_MS passed', () => {
    const r = new RelayRole('auto')
    const t = 1_000_000
    assert.equal(r.due(t), true)
    r.idle(t)
    assert.equal(r.due(t + RELAY_CONFIRM_RETRY_MS), false, 'no 1 s rounds while nobody is outside')
    assert.equal(r.due(t + RELAY_CONFIRM_IDLE_MS - 1), false)
    assert.equal(r.due(t + RELAY_CONFIRM_IDLE_MS), true)
    r.idle(t)
    r.wake()
    assert.equal(r.due(t + 1), true, 'a new connection: ask at once')
    r.idle(t)
    r.setMode(true)
    r.setMode('auto')
    assert.equal(r.due(t + 1), true, 'a new mode starts afresh')
  })

  it('asks members in turn, none twice within the responder window', () => {
    const r = new RelayRole('auto')
    const t = 10 * DIALBACK_RESPONDER_WINDOW_MS
    assert.equal(r.pick([], t), null)
    assert.equal(r.pick(['a', 'b'], t), 'a')
    r.asking('a', t)
    assert.equal(r.pick(['a', 'b'], t + 1), 'b')
    r.asking('b', t + 1)
    assert.equal(r.pick(['a', 'b'], t + 2), null, 'both asked within the window')
    assert.equal(r.pick(['a', 'b'], t + DIALBACK_RESPONDER_WINDOW_MS), 'a')
  })
})

describe('outsideMember: whose dial-back says "reachable from outside"', () => {
  const noNeighbours = () => false
  it('a member behind a NAT of its own (we see it at an address it does not announce)', () => {
    assert.equal(
      outsideMember('198.18.60.1', ['/ip4/198.18.61.10/tcp/7946'], () => true),
      true,
    )
  })
  it('a public member not on our subnets; not a neighbour, not a LAN or loopback address', () => {
    assert.equal(outsideMember('203.0.113.9', ['/ip4/203.0.113.9/tcp/7946'], noNeighbours), true)
    assert.equal(
      outsideMember('203.0.113.9', ['/ip4/203.0.113.9/tcp/7946'], () => true),
      false,
    )
    assert.equal(outsideMember('192.168.1.20', ['/ip4/192.168.1.20/tcp/7946'], noNeighbours), false)
    assert.equal(outsideMember('127.0.0.1', ['/ip4/127.0.0.1/tcp/7946'], noNeighbours), false)
  })
  it('over IPv6 (no NAT): a global address on none of our prefixes; never link-local, ULA or ours', () => {
    const v6 = ['/ip6/2001:2:0:a1::a/tcp/7946']
    assert.equal(outsideMember('2001:2:0:a1::a', v6, noNeighbours), true)
    assert.equal(
      outsideMember('2001:2:0:a1::a', v6, () => true),
      false,
      'on our own prefix',
    )
    assert.equal(outsideMember('fe80::1', v6, noNeighbours), false)
    assert.equal(outsideMember('fd00::1', v6, noNeighbours), false)
    assert.equal(outsideMember('::1', v6, noNeighbours), false)
  })
})

describe('ourSubnets: neighbours of either family', () => {
  it('knows loopback-free IPv4 and IPv6 interface prefixes of this host, and nothing else', () => {
    const near = ourSubnets()
    assert.equal(near('203.0.113.250'), false)
    assert.equal(near('2001:2:ffff::1'), false)
    assert.equal(near('127.0.0.1'), false, 'loopback is not a subnet here')
  })
})
