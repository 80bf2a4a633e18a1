/**
 * Joining without the owner (issue 10): a join string names several reachable members, member
 * relays first, so a newcomer with a reusable key joins through a relay while the owner is offline.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, waitFor } from '@meshlan/lab'
import { parseJoinString } from '@meshlan/wire'
import { ipOf, type MeshLab } from '../src/index.ts'
import { createJoinLab } from '../src/nat-lab.ts'

const can = canRunLabs()
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`
const NODE_CONFIG = 'listen = ["/ip4/0.0.0.0/tcp/7946"]\n'

describe('joining without the owner: the join string names the member relay first', () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createJoinLab('mnjoin', 'reject')
  })
  after(async () => ml?.teardown())

  it('the owner is offline; a newcomer joins with a reusable key through the relay and reaches it', {
    skip,
  }, async () => {
    const owner = ml.node('owner')
    const relay = ml.node('relay')
    const newcomer = ml.node('newcomer')
    await owner.cli(['init', '--name', 'owner'])
    await owner.cli(['network', 'create', 'home'])
    owner.config(NODE_CONFIG)
    relay.config(`relay = true\n${NODE_CONFIG}`)
    newcomer.config(NODE_CONFIG)
    await owner.cli(['up'])
    const first = (await owner.cli(['key', 'create', 'servers', '--reusable', '--allow-all'])).trim()
    // before any member: the owner's own addresses only
    const firstBoot = parseJoinString(first)
    assert.ok(firstBoot.ok)
    const ownerId = firstBoot.value.ownerPeerId
    assert.ok(firstBoot.value.bootstrap.every((a) => a.endsWith(`/p2p/${ownerId}`)))
    await relay.cli(['join', first, '--name', 'relay'])
    await relay.cli(['up'])
    const relayId = await waitFor(
      async () => {
        const s = await owner.status()
        const r = s.peers.find((p) => p.name === 'relay')
        return r?.bound === true && r.path !== 'none' ? r.peerId : false
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the owner to see the relay' },
    )
    await waitFor(async () => (await owner.json<{ relays: unknown[] }>(['netcheck'])).relays.length > 0, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the relay record to say it relays',
    })
    // a key made now names the relay first, at its public address
    const join = (await owner.cli(['key', 'create', 'guests', '--reusable', '--allow-all'])).trim()
    const parsed = parseJoinString(join)
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason)
    const boot = parsed.value.bootstrap
    const relayPub = ml.lab.host('relay').address('pub')
    console.log(`# join string (${join.length} chars) bootstrap: ${boot.join(' ')}`)
    assert.equal(boot[0], `/ip4/${relayPub}/tcp/7946/p2p/${relayId}`, 'the relay goes first')
    assert.ok(
      boot.some((a) => a.endsWith(`/p2p/${ownerId}`)),
      'the owner is named too',
    )
    // a string made before the relay existed, refreshed: the same key, the relay now first
    const refreshed = parseJoinString((await owner.cli(['key', 'refresh', first])).trim())
    assert.ok(refreshed.ok)
    assert.equal(refreshed.value.keyName, 'servers')
    assert.deepEqual(refreshed.value.secret, firstBoot.value.secret)
    assert.equal(refreshed.value.bootstrap[0], boot[0])
    const bad = await owner.run(['key', 'refresh', join.replace(/.{8}$/, 'AAAAAAAA')])
    assert.notEqual(bad.code, 0, 'a damaged string is refused')
    // the owner goes away
    await owner.cli(['down'])
    const relayIp = await ipOf(relay)
    await newcomer.cli(['join', join, '--name', 'newcomer'])
    await newcomer.cli(['up'])
    const tUp = Date.now()
    const ip = await waitFor(
      async () => {
        const s = await newcomer.status()
        return s.self.ip ?? false
      },
      { timeoutMs: 20_000, intervalMs: 50, what: "the newcomer's overlay address" },
    )
    await waitFor(async () => (await newcomer.exec('ping', ['-c', '1', '-W', '1', relayIp])).code === 0, {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the newcomer to reach the relay over the overlay',
    })
    const firstReply = Date.now() - tUp
    const s = await newcomer.status()
    console.log(
      `# owner offline: newcomer up → address ${ip} (bound by the owner: ${s.self.bound}), first reply from the relay ${firstReply} ms after up`,
    )
    assert.equal(s.self.bound, false, 'only the owner binds names; it is offline')
    assert.ok(s.peers.some((p) => p.name === 'relay'))
    const back = await relay.exec('ping', ['-c', '3', '-i', '0.2', '-W', '1', ip])
    assert.equal(back.code, 0, back.stdout)
    // the owner comes back and binds the newcomer
    await owner.cli(['up'])
    await waitFor(async () => (await newcomer.status()).self.bound, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'the owner to bind the newcomer once back',
    })
  })
})
