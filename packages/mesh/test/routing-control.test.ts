/**
 * Subnet routes and exit nodes, control plane: the owner's approvals (network.ts), auto-approval
 * (routing/auto-approve.ts) and what the peer table makes of them (primary, accepted routes, exit).
 * Pure: a real policy body, real bindings, no nodes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ipToUint32, type Policy, policySchema } from '@meshlan/wire'
import { UnknownNodeError } from '../src/errors.ts'
import { bindMembers } from '../src/membership/binder.ts'
import type { Membership } from '../src/membership/policy-store.ts'
import {
  approveRoute,
  createNetwork,
  InvalidRouteError,
  RouteNotApprovedError,
  RouteOverlapsOverlayError,
  removeKey,
  revokeNodeChange,
  revokeRoute,
} from '../src/network.ts'
import { type Advertised, computePeerTable } from '../src/peer-table.ts'
import { autoApprovable, autoApprovals } from '../src/routing/auto-approve.ts'

const LAN = '192.168.1.0/24'

async function ids(n: number): Promise<string[]> {
  const out = await Promise.all(
    Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()),
  )
  return out.sort() // index order = peer id order, so "smallest id" is out[0]
}

/** A network whose owner and `n` members (key 'boxes', allow-all) are bound. */
async function world(n: number, autoApprove = { routes: [] as string[], exit: false }) {
  const ownerKey = await generateKeyPair('Ed25519')
  const { policy: p0 } = await createNetwork(ownerKey, { name: 'routes', subnet: '10.9.0.0/16' })
  const members = await ids(n)
  const withKey: Policy = {
    ...p0,
    keys: [
      {
        name: 'boxes',
        publicKey: 'B802qXzD2hWbGh/Ifw1JM79cokdID2eK62ePxSxosFw=',
        acl: { rules: [{ to: ['*'] }] },
        tags: ['boxes'],
        createdAt: 1,
        expiresAt: null,
        memberExpiresAt: null,
        reusable: true,
        claimedBy: null,
        maxMembers: 100,
        autoApprove,
      },
    ],
  }
  const policy = bindMembers(
    [
      { peerId: p0.owner, key: 'owner', wanted: 'owner' },
      ...members.map((peerId, i) => ({ peerId, key: 'boxes', wanted: `m${i}` })),
    ],
    2,
  )(withKey)
  return { policy, owner: p0.owner, members }
}

function membership(policy: Policy, peerId: string): Membership {
  return {
    peerId,
    keyName: 'boxes',
    acl: { rules: [{ to: ['*'] }] },
    tags: ['boxes'],
    binding: policy.members.find((m) => m.peerId === peerId) ?? null,
    endsAt: null,
  }
}

function table(
  policy: Policy,
  self: string,
  others: Array<[string, Advertised]>,
  opts: { live?: string[]; acceptRoutes?: boolean; exitNode?: string | null; underlayIps?: number[] } = {},
) {
  return computePeerTable({
    networkId: policy.networkId,
    policy,
    selfId: self,
    selfWanted: 'me',
    selfMembership: membership(policy, self),
    members: others.map(([peerId, advertised]) => ({
      peerId,
      wanted: 'x',
      membership: membership(policy, peerId),
      advertised,
    })),
    live: new Set(opts.live ?? others.map(([p]) => p)),
    acceptRoutes: opts.acceptRoutes ?? true,
    exitNode: opts.exitNode ?? null,
    underlayIps: opts.underlayIps ?? [],
  })
}

const offer = (routes: string[], exitNode = false): Advertised => ({ routes, exitNode })
const valid = (p: Policy) => assert.ok(policySchema.safeParse(p).success, 'the changed policy is valid')

describe('owner approvals (network.ts)', () => {
  it('approve adds one approval (idempotent); revoke removes it; both produce valid policies', async () => {
    const { policy, members } = await world(1)
    const [a] = members
    const p1 = approveRoute(a, LAN, 5)(policy)
    assert.deepEqual(p1.routes, [{ peerId: a, route: LAN, approvedAt: 5 }])
    valid(p1)
    assert.equal(approveRoute(a, LAN)(p1).routes.length, 1)
    const p2 = approveRoute(a, 'exit')(p1)
    assert.deepEqual(
      p2.routes.map((r) => r.route),
      [LAN, 'exit'],
    )
    const p3 = revokeRoute(a, LAN)(p2)
    assert.deepEqual(
      p3.routes.map((r) => r.route),
      ['exit'],
    )
    valid(p3)
    assert.throws(() => revokeRoute(a, LAN, 'm0')(p3), RouteNotApprovedError)
  })

  it('refuses bad prefixes, the overlay subnet and unknown nodes with named errors', async () => {
    const { policy, members } = await world(1)
    const [a] = members
    assert.throws(() => approveRoute(a, '192.168.1.1/24'), InvalidRouteError)
    assert.throws(() => approveRoute(a, '127.0.0.0/8'), InvalidRouteError)
    assert.throws(() => approveRoute(a, '0.0.0.0/0'), InvalidRouteError)
    assert.throws(() => approveRoute(a, 'everything'), InvalidRouteError)
    assert.throws(() => approveRoute(a, '10.9.4.0/24')(policy), RouteOverlapsOverlayError)
    assert.throws(() => approveRoute(a, '10.0.0.0/8')(policy), RouteOverlapsOverlayError)
    const [stranger] = await ids(1)
    assert.throws(() => approveRoute(stranger, LAN)(policy), UnknownNodeError)
  })

  it('revoking a node or its key drops its approvals (and only its)', async () => {
    const { policy, members } = await world(2)
    const [a, b] = members
    const p = approveRoute(b, '10.20.0.0/16')(approveRoute(a, 'exit')(approveRoute(a, LAN)(policy)))
    const noA = revokeNodeChange(a)(p)
    assert.deepEqual(
      noA.routes.map((r) => r.peerId),
      [b],
    )
    valid(noA)
    const noKey = removeKey('boxes')(p)
    assert.deepEqual(noKey.routes, [])
    valid(noKey)
  })
})

describe('auto-approval (routing/auto-approve.ts)', () => {
  it('approves only what is advertised AND inside the key autoApprove; exit only if allowed', async () => {
    const { policy, members } = await world(2, { routes: ['192.168.0.0/16'], exit: false })
    const [a, b] = members
    assert.deepEqual(autoApprovable(policy, a, offer([LAN, '172.16.0.0/24'], true)), [LAN])
    const p = autoApprovals(
      [
        { peerId: a, routes: [LAN, '172.16.0.0/24'], exitNode: true },
        { peerId: b, routes: ['192.168.7.0/24'], exitNode: false },
      ],
      9,
    )(policy)
    assert.deepEqual(
      p.routes.map((r) => `${r.peerId === a ? 'a' : 'b'} ${r.route}`),
      [`a ${LAN}`, 'b 192.168.7.0/24'],
    )
    valid(p)
    assert.deepEqual(autoApprovable(p, a, offer([LAN])), [], 'nothing twice')
  })

  it('a key without autoApprove, an unbound node or a revoked key approves nothing', async () => {
    const { policy, members } = await world(1)
    assert.deepEqual(autoApprovable(policy, members[0], offer([LAN], true)), [])
    const w = await world(1, { routes: ['192.168.0.0/16'], exit: true })
    const [stranger] = await ids(1)
    assert.deepEqual(autoApprovable(w.policy, stranger, offer([LAN], true)), [])
    assert.deepEqual(autoApprovable(w.policy, w.members[0], offer([LAN], true)), [LAN, 'exit'])
    assert.deepEqual(
      autoApprovals(
        [{ peerId: w.members[0], routes: [LAN], exitNode: true }],
        1,
      )(removeKey('boxes')(w.policy)).routes,
      [],
    )
  })
})

describe('peer table: routes and exit', () => {
  it('approved ∩ advertised only: advertised-not-approved and approved-not-advertised route nothing', async () => {
    const { policy, owner, members } = await world(2)
    const [a, b] = members
    const p = approveRoute(b, '10.30.0.0/16')(approveRoute(a, LAN)(policy))
    const t = table(p, owner, [
      [a, offer([LAN, '10.40.0.0/16'])],
      [b, offer([])],
    ])
    assert.deepEqual(
      t.peers.get(a)?.routes.map((r) => r.cidr),
      [LAN],
    )
    assert.deepEqual(t.peers.get(a)?.routes[0], { base: ipToUint32('192.168.1.0'), prefix: 24, cidr: LAN })
    assert.deepEqual(t.peers.get(b)?.routes, [])
    assert.deepEqual(t.acceptedRoutes, [{ cidr: LAN, peerId: a }])
  })

  it('HA: two approved advertisers — the live one with the smallest peer id is primary; the other takes over', async () => {
    const { policy, owner, members } = await world(2)
    const [a, b] = members // a < b
    const p = approveRoute(b, LAN)(approveRoute(a, LAN)(policy))
    const both = table(p, owner, [
      [a, offer([LAN])],
      [b, offer([LAN])],
    ])
    assert.deepEqual(both.acceptedRoutes, [{ cidr: LAN, peerId: a }])
    assert.equal(both.peers.get(b)?.routes.length, 0)
    assert.equal(both.peers.get(b)?.allRoutes.length, 1, 'the standby still owns the prefix (anti-spoofing)')
    const aGone = table(
      p,
      owner,
      [
        [a, offer([LAN])],
        [b, offer([LAN])],
      ],
      { live: [b] },
    )
    assert.deepEqual(aGone.acceptedRoutes, [{ cidr: LAN, peerId: b }])
    const noneLive = table(
      p,
      owner,
      [
        [b, offer([LAN])],
        [a, offer([LAN])],
      ],
      { live: [] },
    )
    assert.deepEqual(noneLive.acceptedRoutes, [{ cidr: LAN, peerId: a }], 'no live one: smallest id anyway')
  })

  it('revoking the approval removes the route; without acceptRoutes nothing is installed', async () => {
    const { policy, owner, members } = await world(1)
    const [a] = members
    const p = approveRoute(a, LAN)(policy)
    const adv: Array<[string, Advertised]> = [[a, offer([LAN])]]
    assert.equal(table(p, owner, adv).acceptedRoutes.length, 1)
    assert.deepEqual(table(revokeRoute(a, LAN)(p), owner, adv).acceptedRoutes, [])
    assert.deepEqual(table(revokeRoute(a, LAN)(p), owner, adv).peers.get(a)?.allRoutes, [])
    const off = table(p, owner, adv, { acceptRoutes: false })
    assert.deepEqual(off.acceptedRoutes, [])
    assert.equal(off.peers.get(a)?.routes.length, 1, 'the peer still serves it (for the filters)')
  })

  it('never installs a route containing our own underlay address, nor one we serve ourselves', async () => {
    const { policy, members } = await world(2)
    const [a, me] = members
    const p = approveRoute(me, '10.50.0.0/16')(approveRoute(a, '10.50.0.0/16')(approveRoute(a, LAN)(policy)))
    const t = computePeerTable({
      networkId: p.networkId,
      policy: p,
      selfId: me,
      selfWanted: 'me',
      selfMembership: membership(p, me),
      members: [
        { peerId: a, wanted: 'a', membership: membership(p, a), advertised: offer([LAN, '10.50.0.0/16']) },
      ],
      live: new Set([a]),
      acceptRoutes: true,
      selfAdvertised: offer(['10.50.0.0/16', '10.60.0.0/16']),
      underlayIps: [ipToUint32('192.168.1.77')],
    })
    assert.deepEqual(t.acceptedRoutes, [])
    assert.deepEqual(t.self?.routes, {
      advertised: ['10.50.0.0/16', '10.60.0.0/16'],
      approved: ['10.50.0.0/16'],
    })
  })

  it('exit node: used only when configured, advertised and approved; otherwise exitError says why', async () => {
    const { policy, owner, members } = await world(2)
    const [a, b] = members
    const adv: Array<[string, Advertised]> = [
      [a, offer([], true)],
      [b, offer([], false)],
    ]
    const pa = approveRoute(a, 'exit')(policy)
    const nameA = table(pa, owner, adv).peers.get(a)?.name as string
    const ipA = table(pa, owner, adv).peers.get(a)?.ip as number
    assert.deepEqual(table(pa, owner, adv, { exitNode: nameA }).exit, { peerId: a })
    assert.equal(table(pa, owner, adv, { exitNode: nameA }).exitError, null)
    const byIp = table(pa, owner, adv, {
      exitNode: `${ipA >>> 24}.${(ipA >>> 16) & 255}.${(ipA >>> 8) & 255}.${ipA & 255}`,
    })
    assert.deepEqual(byIp.exit, { peerId: a })
    assert.equal(table(pa, owner, adv).exit, null, 'not configured: none')

    const notApproved = table(policy, owner, adv, { exitNode: nameA })
    assert.equal(notApproved.exit, null)
    assert.match(notApproved.exitError ?? '', /not an approved exit node.*route approve/)
    const nameB = notApproved.peers.get(b)?.name as string
    const notAdvertised = table(approveRoute(b, 'exit')(pa), owner, adv, { exitNode: nameB })
    assert.equal(notAdvertised.exit, null)
    assert.match(notAdvertised.exitError ?? '', /does not offer to be an exit node/)
    assert.equal(notAdvertised.peers.get(b)?.exitNode, false)
    assert.match(table(pa, owner, adv, { exitNode: 'nobody' }).exitError ?? '', /no member/)
  })
})
