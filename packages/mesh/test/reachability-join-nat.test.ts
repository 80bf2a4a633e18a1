/**
 * Pure parts of issue 10's field work: which members a join string names (relays first, no other
 * member's LAN address, bounded) and what netcheck says about our NAT (double NAT, CGNAT, symmetric).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeJoinString, parseJoinString } from '@meshlan/wire'
import { JOIN_ADDRS_PER_MEMBER, JOIN_MAX_ADDRS, JOIN_MAX_RELAYS } from '../src/reachability/constants.ts'
import { joinBootstrap } from '../src/reachability/join-bootstrap.ts'
import { describeNat, isCgnatIp } from '../src/reachability/nat-kind.ts'

async function ids(n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
  return out
}

describe('join string bootstrap list', () => {
  it('relays first, then us, then other members; LAN addresses only ours, loopback last', async () => {
    const [me, relay, member, offline] = await ids(4)
    const list = joinBootstrap(
      {
        peerId: me,
        addrs: [
          `/ip4/127.0.0.1/tcp/7946/p2p/${me}`,
          `/ip4/192.168.1.10/tcp/7946/p2p/${me}`,
          `/ip4/203.0.113.5/tcp/7946/p2p/${me}`,
        ],
      },
      [
        {
          peerId: member,
          addrs: ['/ip4/10.0.0.7/tcp/7946', '/ip4/198.51.100.9/tcp/7946'],
          relay: false,
          online: true,
        },
        {
          peerId: relay,
          addrs: [
            '/ip4/192.0.2.1/tcp/7946',
            '/ip4/192.168.5.1/tcp/7946',
            '/ip4/192.0.2.1/tcp/7946/p2p-circuit',
          ],
          relay: true,
          online: true,
        },
        { peerId: offline, addrs: ['/ip4/192.0.2.99/tcp/7946'], relay: true, online: false },
      ],
    )
    assert.deepEqual(list, [
      `/ip4/192.0.2.1/tcp/7946/p2p/${relay}`,
      `/ip4/203.0.113.5/tcp/7946/p2p/${me}`,
      `/ip4/198.51.100.9/tcp/7946/p2p/${member}`,
      `/ip4/192.168.1.10/tcp/7946/p2p/${me}`,
      `/ip4/127.0.0.1/tcp/7946/p2p/${me}`,
    ])
  })

  it('is bounded: relays, addresses per member and in all', async () => {
    const [me, ...others] = await ids(12)
    const members = others.map((peerId, i) => ({
      peerId,
      addrs: [1, 2, 3].map((k) => `/ip4/192.0.2.${i * 3 + k}/tcp/7946`),
      relay: i < 6,
      online: true,
    }))
    const list = joinBootstrap({ peerId: me, addrs: [`/ip4/203.0.113.5/tcp/7946/p2p/${me}`] }, members)
    assert.equal(list.length, JOIN_MAX_ADDRS)
    const relayIds = new Set(members.filter((m) => m.relay).map((m) => m.peerId))
    const head = list.slice(0, JOIN_MAX_RELAYS * JOIN_ADDRS_PER_MEMBER)
    assert.ok(
      head.every((a) => relayIds.has(a.split('/p2p/')[1])),
      'relays first',
    )
    assert.equal(new Set(head.map((a) => a.split('/p2p/')[1])).size, JOIN_MAX_RELAYS)
    assert.equal(list[JOIN_MAX_RELAYS * JOIN_ADDRS_PER_MEMBER], `/ip4/203.0.113.5/tcp/7946/p2p/${me}`)
  })

  it('fits a join string that older parsers read (format 2, every address its own /p2p)', async () => {
    const [me, relay] = await ids(2)
    const bootstrap = joinBootstrap({ peerId: me, addrs: [`/ip4/203.0.113.5/tcp/7946/p2p/${me}`] }, [
      { peerId: relay, addrs: ['/ip4/192.0.2.1/tcp/7946'], relay: true, online: true },
    ])
    const s = encodeJoinString({
      networkId: 'nabc',
      keyName: 'home',
      secret: new Uint8Array(32),
      ownerPeerId: me,
      bootstrap,
    })
    const r = parseJoinString(s)
    assert.ok(r.ok)
    assert.deepEqual(r.value.bootstrap, bootstrap)
  })
})

describe('netcheck: the NAT we are behind', () => {
  const base = { ownIps: ['192.168.1.10'], probed: null, listenPort: 7946, mappedIp: null }
  it('public, plain NAT, symmetric NAT', () => {
    assert.equal(
      describeNat({ ...base, ownIps: ['203.0.113.5'], observed: ['203.0.113.5'], preservesPort: null }).kind,
      'public',
    )
    assert.equal(describeNat({ ...base, observed: ['203.0.113.1'], preservesPort: true }).kind, 'nat')
    const s = describeNat({
      ...base,
      observed: ['203.0.113.1'],
      preservesPort: false,
      probed: '/ip4/203.0.113.1/tcp/40123',
    })
    assert.equal(s.kind, 'symmetric-nat')
    assert.match(s.reason, /changes our port.*40123/)
    assert.equal(describeNat({ ...base, observed: [], preservesPort: null }).kind, 'unknown')
  })

  it('double NAT: a router mapping on a carrier address, or our own address in 100.64/10', () => {
    const d = describeNat({ ...base, observed: ['203.0.113.1'], preservesPort: true, mappedIp: '100.64.3.2' })
    assert.equal(d.kind, 'double-nat')
    assert.match(d.reason, /100\.64\.3\.2.*does not reach the Internet/)
    assert.equal(
      describeNat({ ...base, ownIps: ['100.72.0.5'], observed: ['203.0.113.1'], preservesPort: null }).kind,
      'double-nat',
    )
    // a router mapping on the address members see us at: reachable
    assert.equal(
      describeNat({ ...base, observed: ['203.0.113.1'], preservesPort: true, mappedIp: '203.0.113.1' }).kind,
      'mapped',
    )
    assert.ok(isCgnatIp('100.127.255.255') && !isCgnatIp('100.128.0.0') && !isCgnatIp('bad'))
  })
})
