/**
 * Scale benchmark (issue 8 §5): what a big or flooded membership costs one node.
 *
 *   node packages/mesh/bench/scale-bench.ts [sizes…]     (default 100 500 1000)
 *
 * For each size N: N members bound by the owner under one allow-all key, then
 *  - recompute: `computePeerTable` over the N member records (median and worst of several runs),
 *  - record offers: N valid records through `RecordStore.offer` (decode, two signatures, claim,
 *    caps) — the receiving side of gossip and sync,
 *  - sybil offers: records of unbound identities of a key already at MAX_UNBOUND_PER_KEY, each
 *    refused by the cap (what a flood from one join string costs the receiver).
 * Prints numbers; asserts nothing.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeRecord, type NodeRecord, parseJoinString } from '@meshlan/wire'
import { MAX_UNBOUND_PER_KEY } from '../src/constants.ts'
import { createLogger } from '../src/logger.ts'
import { bindMembers } from '../src/membership/binder.ts'
import { PolicyStore } from '../src/membership/policy-store.ts'
import { claimMembership, createKey, createNetwork, nextVersion } from '../src/network.ts'
import { computePeerTable } from '../src/peer-table.ts'
import { RecordStore } from '../src/topology/records.ts'

const log = createLogger('bench', { level: 'error' })
const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0)
const SIZES = sizes.length > 0 ? sizes : [100, 500, 1000]
const SYBILS = 500
const RUNS = 7

interface Identity {
  key: PrivateKey
  peerId: string
  claim: string
}

async function identities(joinString: string, n: number): Promise<Identity[]> {
  const join = parseJoinString(joinString)
  if (!join.ok) throw new Error(join.reason)
  const out: Identity[] = []
  for (let i = 0; i < n; i++) {
    const key = await generateKeyPair('Ed25519')
    out.push({
      key,
      peerId: peerIdFromPrivateKey(key).toString(),
      claim: await claimMembership(join.value, key),
    })
  }
  return out
}

function record(id: Identity, networkId: string, i: number): Promise<Uint8Array> {
  const now = Date.now()
  const r: NodeRecord = {
    type: 'record',
    v: 1,
    networkId,
    peerId: id.peerId,
    seq: now,
    ts: now,
    claim: id.claim,
    policyVersion: 1,
    name: `node-${i}`,
    ip: '10.144.0.1',
    counter: 0,
    addrs: ['/ip4/192.0.2.1/tcp/7946'],
    links: [],
    relays: [],
    relay: false,
    observed: [],
  }
  return encodeRecord(r, id.key)
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b)
  return `median ${s[Math.floor(s.length / 2)].toFixed(2)} ms, worst ${s[s.length - 1].toFixed(2)} ms`
}

async function bench(n: number): Promise<void> {
  const ownerKey = await generateKeyPair('Ed25519')
  let { policy } = await createNetwork(ownerKey, { name: 'bench', subnet: '10.144.0.0/16' })
  const admin = await createKey(
    policy,
    ownerKey,
    { name: 'admin', acl: { rules: [{ to: ['*'] }] }, reusable: true },
    [],
  )
  const guests = await createKey(
    admin.policy,
    ownerKey,
    { name: 'guests', acl: { rules: [{ to: ['tag:admin'], ports: ['22/tcp'] }] }, reusable: true },
    [],
  )
  policy = guests.policy
  const t0 = performance.now()
  const members = await identities(admin.joinString, n)
  const sybils = await identities(guests.joinString, MAX_UNBOUND_PER_KEY + SYBILS)
  const makeMs = performance.now() - t0
  const bound = await nextVersion(
    policy,
    ownerKey,
    bindMembers(
      members.map((m, i) => ({ peerId: m.peerId, key: 'admin', wanted: `node-${i}` })),
      Date.now(),
    ),
  )
  const self = members[0]
  const store = new PolicyStore({ networkId: policy.networkId, owner: policy.owner, self: self.peerId, log })
  const accepted = await store.offer(bound.envelope)
  if (accepted !== 'accepted') throw new Error(`bench policy refused: ${JSON.stringify(accepted)}`)
  const records = new RecordStore(self.peerId, store, log)
  const envelopes = await Promise.all(members.slice(1).map((m, i) => record(m, policy.networkId, i + 1)))
  const sybilEnvelopes = await Promise.all(sybils.map((m, i) => record(m, policy.networkId, n + i)))

  // record offers: valid, bound members (cold claim cache: first sight of each)
  let t = performance.now()
  for (const e of envelopes) {
    const r = await records.offer(e)
    if (r !== 'accepted') throw new Error(`record refused: ${JSON.stringify(r)}`)
  }
  const offerMs = performance.now() - t
  // sybils: fill the key's unbound cap, then time the refusals
  for (const e of sybilEnvelopes.slice(0, MAX_UNBOUND_PER_KEY)) await records.offer(e)
  t = performance.now()
  let refused = 0
  for (const e of sybilEnvelopes.slice(MAX_UNBOUND_PER_KEY))
    if (typeof (await records.offer(e)) === 'object') refused++
  const sybilMs = performance.now() - t

  const selfMembership = await store.membership(self.peerId, self.claim)
  if (!selfMembership.ok) throw new Error(selfMembership.reason)
  const input = () => ({
    networkId: policy.networkId,
    policy: store.policy!,
    selfId: self.peerId,
    selfWanted: 'node-0',
    selfMembership: selfMembership.value,
    members: records
      .all()
      .map((k) => ({ peerId: k.record.peerId, wanted: k.record.name, membership: k.membership })),
  })
  const times: number[] = []
  let peers = 0
  for (let i = 0; i < RUNS; i++) {
    const s = performance.now()
    peers = computePeerTable(input()).peers.size
    times.push(performance.now() - s)
  }
  const heap = process.memoryUsage().heapUsed / 2 ** 20
  console.log(
    `${String(n).padStart(5)} bound members (${peers} peers in the table, ${MAX_UNBOUND_PER_KEY} of them unbound sybils; ` +
      `policy ${(bound.envelope.length / 1024).toFixed(0)} KiB, identities made in ${makeMs.toFixed(0)} ms)\n` +
      `      recompute (computePeerTable): ${stats(times)}\n` +
      `      record offers, accepted:      ${((envelopes.length / offerMs) * 1000).toFixed(0)}/s (${(offerMs / envelopes.length).toFixed(2)} ms each)\n` +
      `      sybil offers, refused by cap: ${((SYBILS / sybilMs) * 1000).toFixed(0)}/s (${(sybilMs / SYBILS).toFixed(2)} ms each, ${refused}/${SYBILS} refused)\n` +
      `      heap used now: ${heap.toFixed(0)} MiB`,
  )
}

for (const n of SIZES) await bench(n)
