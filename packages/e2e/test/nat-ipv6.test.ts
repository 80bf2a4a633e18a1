/**
 * Issue 10, the IPv6 underlay: two homes behind IPv4 carrier-grade NAT (a home NAT behind a
 * symmetric carrier NAT, so IPv4 punching cannot work) with global IPv6 behind stateful home
 * firewalls — one that drops unsolicited inbound, one that rejects it with a RST — and a public
 * dual-stack member relay. The tunnel works at once through the relay; hole punching over IPv6
 * (the same simultaneous open) makes it direct, and the proof is traffic with the relay blocked.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, waitFor } from '@meshlan/lab'
import { parseJoinString } from '@meshlan/wire'
import { ipOf, type MeshLab } from '../src/index.ts'
import { createIpv6CgnatLab } from '../src/nat-lab.ts'
import {
  msUntilDirect,
  type Netcheck,
  peerPath,
  pingWithRelaysBlocked,
  replies,
  reserved,
  tcpPairs,
} from './nat-helpers.ts'

const can = canRunLabs()
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`

/** Home A's router drops every IPv6 packet to or from home B's prefix (and undoes it). */
async function blockIpv6Between(ml: MeshLab, on: boolean): Promise<void> {
  const lanB = ml.lab.segment('lanb').cidr6 ?? ''
  for (const dir of ['-s', '-d']) {
    const r = await ml.lab
      .router('homea')
      .exec('ip6tables', [on ? '-I' : '-D', 'FORWARD', dir, lanB, '-j', 'DROP'])
    assert.equal(r.code, 0, r.stderr)
  }
}

describe('NAT traversal: IPv4 CGNAT plus IPv6 firewalls (home A drops, home B rejects)', () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createIpv6CgnatLab({ prefix: 'ml6d', filterA: 'drop', filterB: 'reject' })
  })
  after(async () => ml?.teardown())

  it('IPv4 cannot go direct: the carrier NATs change ports, netcheck says so', { skip }, async () => {
    const a = ml.node('a')
    const nc = await waitFor(
      async () => {
        const n = await a.json<Netcheck & { families: { ipv6: number | null; ipv6Addrs: string[] } }>([
          'netcheck',
        ])
        return n.natPreservesPort != null ? n : false
      },
      { timeoutMs: 30_000, intervalMs: 250, what: "a's NAT probe" },
    )
    console.log(`# a's netcheck: ${nc.nat.kind}: ${nc.nat.reason}`)
    assert.equal(nc.natPreservesPort, false, 'the symmetric carrier NAT must change the port')
    assert.equal(nc.nat.kind, 'symmetric-nat')
    // and IPv6 is on by default: listening on the same port, announcing the global address only
    assert.equal(nc.families.ipv6, 7946)
    assert.deepEqual(nc.families.ipv6Addrs, [ml.lab.host('a').address6('lana')])
    const status = await ml.node('b').status()
    assert.ok(status.self.ip != null)
  })

  it("announces global IPv6 only: a join string names the relay's global address, never its ULA or link-local one", {
    skip,
  }, async () => {
    const relay = ml.node('relay1')
    const join = (await relay.cli(['key', 'create', 'probe6', '--reusable', '--allow-all'])).trim()
    const parsed = parseJoinString(join)
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason)
    const boot = parsed.value.bootstrap
    console.log(`# relay1's join string: ${boot.map((b) => b.replace(/\/p2p\/.*/, '')).join(' ')}`)
    const v6 = boot.filter((b) => b.startsWith('/ip6/'))
    assert.ok(
      v6.some((b) => b.startsWith(`/ip6/${ml.lab.host('relay1').address6('pub')}/tcp/7946/p2p/`)),
      `the relay's global IPv6 address is missing: ${boot.join(' ')}`,
    )
    // the relay holds fd00:76::a and fe80::a on the same interface (createIpv6CgnatLab)
    assert.deepEqual(
      v6.filter((b) => /^\/ip6\/f[cdef]/i.test(b)),
      [],
      'a ULA or link-local address left in a join string',
    )
  })

  it(
    'the tunnel works at once through the relay, then goes direct over IPv6; traffic flows with the relay blocked',
    {
      skip,
    },
    () => directOverIpv6(ml, 'drop/reject'),
  )
})

describe("NAT traversal: IPv4 CGNAT plus IPv6 firewalls that both reject (OpenWRT's default)", () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createIpv6CgnatLab({ prefix: 'ml6r', filterA: 'reject', filterB: 'reject' })
  })
  after(async () => ml?.teardown())

  it(
    'goes direct over IPv6 through two resetting firewalls; traffic flows with the relay blocked',
    {
      skip,
    },
    () => directOverIpv6(ml, 'reject/reject'),
  )
})

/**
 * The scenario: relayed at once (IPv6 between the homes cut), then b restarted with IPv6 open —
 * first reply, direct over IPv6 on both sides (status and the kernel's sockets), and traffic with
 * the relay dropping everything.
 */
async function directOverIpv6(ml: MeshLab, what: string): Promise<void> {
  const a = ml.node('a')
  const b = ml.node('b')
  const aV6 = ml.lab.host('a').address6('lana')
  const bV6 = ml.lab.host('b').address6('lanb')
  await waitFor(() => reserved(b), { timeoutMs: 15_000, what: 'b to hold a relay reservation' })
  const bIp = await ipOf(b)

  // 1. relayed at once: with IPv6 between the homes cut, the relay carries the tunnel
  await blockIpv6Between(ml, true)
  try {
    const p = await a.exec('ping', ['-c', '10', '-i', '0.1', '-W', '2', bIp])
    const got = replies(p.stdout)
    const path = await peerPath(a, 'b')
    console.log(`# ${what}: IPv6 cut: ${got}/10 replies over ${path?.path} via ${path?.via} (${path?.why})`)
    assert.ok(got >= 8, `only ${got}/10 replies through the relay:\n${p.stdout}`)
    assert.equal(path?.path, 'relay')
    assert.equal(path?.via, 'relay1')
  } finally {
    await blockIpv6Between(ml, false)
  }

  // 2. a fresh start of b with IPv6 open: first reply (relayed), then direct over IPv6
  await b.cli(['down'])
  await waitFor(async () => (await peerPath(a, 'b'))?.path === 'none', {
    timeoutMs: 20_000,
    intervalMs: 100,
    what: 'a to lose b',
  }).catch(() => {})
  await b.cli(['up'])
  const tUp = Date.now()
  await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
    timeoutMs: 15_000,
    intervalMs: 20,
    what: 'first ping a → b after up',
  })
  const first = Date.now() - tUp
  const firstPath = (await peerPath(a, 'b'))?.path
  const direct = await msUntilDirect(
    a,
    'b',
    tUp,
    // three punches (at once, 10 s and 30 s later), as the other resetting-router labs allow
    { timeoutMs: 45_000, intervalMs: 100, what: 'a direct path a ↔ b over IPv6', peer: b },
  )
  console.log(
    `# ${what}: b up → first reply from a ${first} ms (path then: ${firstPath}); direct ${direct} ms after up`,
  )

  // 3. direct over IPv6, on both sides, in status and in the kernel's sockets
  const pa = await peerPath(a, 'b')
  const pb = await waitFor(
    async () => {
      const p = await peerPath(b, 'a')
      return p?.path === 'direct' ? p : false
    },
    { timeoutMs: 5000, intervalMs: 100, what: "b's status to show the direct path" },
  )
  console.log(`# ${what}: a sees b at ${pa?.addr} (${pa?.family}); b sees a at ${pb.addr} (${pb.family})`)
  assert.equal(pa?.family, 'ipv6')
  assert.equal(pb.family, 'ipv6')
  assert.match(String(pa?.addr), new RegExp(`^/ip6/${bV6}/tcp/\\d+$`))
  assert.match(String(pb.addr), new RegExp(`^/ip6/${aV6}/tcp/\\d+$`))
  const pairs = await tcpPairs(a)
  const v6 = pairs.filter((p) => p.local.startsWith(`[${aV6}]:`) && p.peer.startsWith(`[${bV6}]:`))
  assert.ok(
    v6.length > 0,
    `no TCP connection [${aV6}] ↔ [${bV6}] in a's namespace:\n${JSON.stringify(pairs)}`,
  )
  const ping = await a.run(['ping', 'b', '--count', '2'])
  assert.equal(ping.code, 0, ping.stderr)
  assert.match(ping.stdout, /direct over IPv6/)

  // 4. the proof: the relay drops everything (IPv4 and IPv6) while traffic keeps flowing
  const r = await pingWithRelaysBlocked(ml, a, bIp, 3, ['relay1'])
  console.log(
    `# ${what}: relay blocked: ${r.received}/${r.sent} replies over IPv6, longest gap ${r.gap.toFixed(0)} ms`,
  )
  assert.ok(r.received >= r.sent - 2, `only ${r.received}/${r.sent} replies with the relay blocked`)
  assert.equal((await peerPath(a, 'b'))?.family, 'ipv6', 'still direct over IPv6 afterwards')
}
