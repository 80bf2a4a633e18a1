/**
 * NAT traversal where the home network itself is the problem: two members behind one router that
 * does not hairpin (they must meet on their LAN addresses), and double NAT (a home router behind a
 * carrier-grade NAT in 100.64.0.0/10), port-preserving (direct) or symmetric (relayed, and why).
 * Every world with routers that drop and with routers that reset.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, type NatFilter, waitFor } from '@meshlan/lab'
import { ipOf, type MeshHost, type MeshLab } from '../src/index.ts'
import { createDoubleNatLab, createSharedNatLab } from '../src/nat-lab.ts'
import {
  msUntilDirect,
  type Netcheck,
  peerPath,
  pingWithRelaysBlocked,
  reserved,
  tcpPairs,
} from './nat-helpers.ts'

const can = canRunLabs()
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`

/** Whether a TCP connect from `n` to ip:port completes within 2 s. */
async function tcpConnects(n: MeshHost, ip: string, port: number): Promise<boolean> {
  const js = `const s=require('net').connect(${port},'${ip}');s.setTimeout(2000);s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));s.on('timeout',()=>process.exit(2))`
  return (await n.exec(process.execPath, ['-e', js], 10_000)).code === 0
}

/** Restarts `n` and times its `up` (returned) to the first overlay reply from `from`. */
async function restartAndTime(
  from: MeshHost,
  n: MeshHost,
  ip: string,
): Promise<{ tUp: number; first: number }> {
  await n.cli(['down'])
  await waitFor(async () => (await peerPath(from, n.name))?.path === 'none', {
    timeoutMs: 20_000,
    intervalMs: 100,
    what: `${from.name} to lose ${n.name}`,
  }).catch(() => {})
  await n.cli(['up'])
  const tUp = Date.now()
  await waitFor(async () => (await from.exec('ping', ['-c', '1', '-W', '1', ip])).code === 0, {
    timeoutMs: 15_000,
    intervalMs: 20,
    what: `first ping ${from.name} → ${n.name} after up`,
  })
  return { tUp, first: Date.now() - tUp }
}

for (const [prefix, filter] of [
  ['mnsnd', 'drop'],
  ['mnsnr', 'reject'],
] as Array<[string, NatFilter]>) {
  describe(`NAT traversal: two members behind one ${filter} router without hairpinning`, () => {
    let ml: MeshLab
    before(async () => {
      if (skip) return
      ml = await createSharedNatLab(prefix, filter)
    })
    after(async () => ml?.teardown())

    it('they go direct over their LAN addresses, with every relay blocked', { skip }, async () => {
      const a = ml.node('a')
      const a2 = ml.node('a2')
      const aLan = ml.lab.host('a').address('home')
      const a2Lan = ml.lab.host('a2').address('home')
      const wan = ml.lab.router('nath').wanAddress
      // the router does not hairpin: a connection to its own public address never reaches a2
      assert.equal(await tcpConnects(a, wan, 7946), false, `${wan}:7946 reached from the LAN: a hairpin`)
      assert.equal(await tcpConnects(a, a2Lan, 7946), true, 'a2 is not reachable on the LAN')
      // both members see the same public address: that is what tells them they share a NAT
      await waitFor(
        async () => {
          const [x, y] = [await a.json<Netcheck>(['netcheck']), await a2.json<Netcheck>(['netcheck'])]
          return x.observed.includes(wan) && y.observed.includes(wan)
        },
        { timeoutMs: 20_000, intervalMs: 200, what: 'a and a2 to learn their shared public address' },
      )
      const a2Ip = await ipOf(a2)
      const { tUp, first } = await restartAndTime(a, a2, a2Ip)
      const direct = await msUntilDirect(a, 'a2', tUp, {
        timeoutMs: 15_000,
        intervalMs: 50,
        what: 'a direct path a ↔ a2',
        peer: a2,
      })
      console.log(
        `# shared ${filter} NAT: a2 up → first reply from a ${first} ms, direct ${direct} ms after up`,
      )
      assert.equal((await peerPath(a2, 'a'))?.path, 'direct')
      // the connection that carries it is the LAN one (either side may have dialled)
      const pairs = await tcpPairs(a)
      const lan = pairs.filter(
        (p) =>
          (p.local === `${aLan}:7946` && p.peer.startsWith(`${a2Lan}:`)) ||
          (p.peer === `${a2Lan}:7946` && p.local.startsWith(`${aLan}:`)),
      )
      assert.ok(lan.length > 0, `no TCP connection between ${aLan} and ${a2Lan}:\n${JSON.stringify(pairs)}`)
      assert.ok(!pairs.some((p) => p.peer.startsWith(`${wan}:`)), 'a talks to the router address')
      const r = await pingWithRelaysBlocked(ml, a, a2Ip)
      console.log(
        `# shared ${filter} NAT, every relay blocked: ${r.received}/${r.sent} replies, longest gap ${r.gap.toFixed(0)} ms`,
      )
      assert.ok(r.received >= r.sent - 2, `only ${r.received}/${r.sent} replies with the relays blocked`)
      const p = await a.run(['ping', 'a2', '--count', '2'])
      assert.equal(p.code, 0, p.stderr)
      assert.match(p.stdout, /direct/)
    })
  })
}

describe('NAT traversal: double NAT (a home router behind a port-preserving carrier NAT)', () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createDoubleNatLab({ prefix: 'mndnat', filter: 'reject' })
  })
  after(async () => ml?.teardown())

  it('hole punching through both NATs makes the path direct, though a router loses a SYN-ACK; netcheck says where members see us', {
    skip,
  }, async () => {
    const a = ml.node('a')
    const b = ml.node('b')
    await waitFor(() => reserved(b), { timeoutMs: 15_000, what: 'b to hold a relay reservation' })
    // The router in front of the responder by peer id (the larger id) loses the first SYN-ACK it
    // forwards out of its LAN. In a simultaneous open that leaves the responder connected and the
    // initiator waiting ~1 s (the initial RTO) for its own SYN-ACK to be answered; a responder that
    // took the initiator's part after 1 s of silence met an initiator: both timed out in Noise and
    // the retries found the address pair in TIME_WAIT (a CI failure of this test, docs/nat.md).
    const [aId, bId] = [(await a.status()).self.peerId, (await b.status()).self.peerId]
    const [router, lan] = aId > bId ? ['homea', '192.168.1.0/24'] : ['natb', '192.168.2.0/24']
    const lose = ['FORWARD', '-s', lan, '-p', 'tcp', '--tcp-flags', 'SYN,ACK', 'SYN,ACK']
    const once = ['-m', 'statistic', '--mode', 'nth', '--every', '1000000', '--packet', '0', '-j', 'DROP']
    const r0 = await ml.lab.router(router).exec('iptables', ['-I', ...lose, ...once])
    assert.equal(r0.code, 0, r0.stderr)
    const bIp = await ipOf(b)
    const t0 = Date.now()
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'first ping a → b',
    })
    const t1 = Date.now()
    const direct = await msUntilDirect(
      a,
      'b',
      t1,
      // 45 s: three punches (at once, 10 s and 30 s later); through resetting routers on this loaded
      // machine a first punch failed in 9 of 20 bench attempts (docs/nat.md, the NAT matrix)
      { timeoutMs: 45_000, intervalMs: 100, what: 'a direct path a ↔ b through the double NAT', peer: b },
    )
    console.log(`# double NAT: first reply a → b after ${t1 - t0} ms; direct ${direct} ms after it`)
    // whether the responder sent a SYN-ACK at all depends on how the SYNs crossed (in 1 of 6 local
    // runs neither end saw the other's SYN before its own was answered): say which world this was
    const counted = await ml.lab.router(router).exec('iptables', ['-vnxL', 'FORWARD'])
    const lost = counted.stdout.split('\n').find((l) => l.includes('statistic'))
    console.log(`# double NAT: SYN-ACKs lost at ${router}: ${lost?.trim().split(/\s+/)[0]}`)
    const r = await pingWithRelaysBlocked(ml, a, bIp)
    console.log(`# double NAT, every relay blocked: ${r.received}/${r.sent} replies`)
    assert.ok(r.received >= r.sent - 2, `only ${r.received}/${r.sent} replies with the relays blocked`)
    const nc = await a.json<Netcheck>(['netcheck'])
    console.log(`# double NAT: a's netcheck says "${nc.nat.reason}"`)
    assert.ok(nc.observed.includes(ml.lab.router('cgn').wanAddress), `observed ${nc.observed}`)
    assert.equal(nc.natPreservesPort, true)
    assert.equal(nc.behindNat, true)
  })
})

describe('NAT traversal: double NAT behind a symmetric carrier NAT', () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createDoubleNatLab({ prefix: 'mndsym', symmetricCarrier: true })
  })
  after(async () => ml?.teardown())

  it('the tunnel stays relayed and works; status --json and netcheck say why', { skip }, async () => {
    const a = ml.node('a')
    const b = ml.node('b')
    await waitFor(() => reserved(a), { timeoutMs: 15_000, what: 'a to hold a relay reservation' })
    const bIp = await ipOf(b)
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'first ping a → b',
    })
    const why = await waitFor(
      async () => {
        const p = await peerPath(a, 'b')
        return p?.why === 'symmetric-nat' ? p : false
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'status to name the symmetric NAT' },
    )
    assert.equal(why.path, 'relay')
    assert.match(String(why.via), /^relay[12]$/)
    assert.equal((await peerPath(b, 'a'))?.why, 'symmetric-nat')
    const p = await a.exec('ping', ['-c', '10', '-i', '0.1', '-W', '1', bIp])
    assert.equal(p.code, 0, p.stdout)
    const nc = await a.json<Netcheck>(['netcheck'])
    console.log(`# symmetric double NAT: a's netcheck says "${nc.nat.reason}"`)
    assert.equal(nc.natPreservesPort, false)
    assert.equal(nc.nat.kind, 'symmetric-nat')
    assert.match(nc.nat.reason, /changes our port/)
  })
})
