/**
 * (Over 500 lines: one NAT lab per describe — drop, reset, symmetric, auto relay, UPnP — with shared fault helpers.)
 *
 * NAT traversal end to end: member relays, hole punching through real MASQUERADE NATs, symmetric
 * NAT staying on the relay, relay failover, and peers behind one NAT meeting on their LAN.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, iperf3Received, type LabProcess, startIperf3Server, waitFor } from '@meshlan/lab'
import { ipOf, type MeshLab } from '../src/index.ts'
import { createAutoRelayLab, createNatLab, createUpnpLab } from '../src/nat-lab.ts'
import {
  assertRecovered,
  daemonPid,
  explainPath,
  longestGap,
  msUntilDirect,
  type Netcheck,
  peerPath,
  pingAcrossFault,
  pingWithRelaysBlocked,
  replies,
  reserved,
} from './nat-helpers.ts'

const can = canRunLabs()
// Skipped per test, so the summary counts them. Where labs must run (MESHLAN_REQUIRE_LABS=1:
// scripts/test.sh as root, and CI) a lab that cannot run is a failure, not a quiet skip.
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`

describe('NAT traversal: two home LANs behind port-preserving NATs', () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createNatLab({ prefix: 'mlnat', withA2: true })
  })
  after(async () => ml?.teardown())

  it('a relayed tunnel works at once, then hole punching makes it direct', { skip }, async () => {
    const a = ml.node('a')
    const b = ml.node('b')
    await waitFor(() => reserved(b), { timeoutMs: 15_000, what: 'b to hold a relay reservation' })
    const bIp = await ipOf(b)
    const t0 = Date.now()
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'first ping a → b',
    })
    const firstReply = Date.now() - t0
    const direct = await msUntilDirect(a, 'b', t0, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'a direct path a ↔ b',
      peer: b,
    })
    console.log(`# first reply a → b after ${firstReply} ms; direct after ${direct} ms`)
    const p = await a.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', bIp])
    assert.equal(p.code, 0, p.stdout)
    const r = await a.run(['ping', 'b', '--count', '2'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /direct/)
    // "direct" is what the node says; the proof is traffic with no relay to carry it
    const blocked = await pingWithRelaysBlocked(ml, a, bIp)
    console.log(`# drop routers, every relay blocked: ${blocked.received}/${blocked.sent} replies`)
    assert.ok(blocked.received >= blocked.sent - 2, `only ${blocked.received}/${blocked.sent} replies`)
  })

  it('two nodes behind the same NAT connect directly over their LAN', { skip }, async () => {
    const a = ml.node('a')
    const a2Ip = await ipOf(ml.node('a2'))
    const t0 = Date.now()
    const p = await a.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', a2Ip])
    assert.equal(p.code, 0, p.stdout)
    const took = await msUntilDirect(a, 'a2', t0, {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'a direct LAN path a ↔ a2',
    })
    console.log(`# same NAT: direct over the LAN ${took} ms after the first packet`)
    const conn = await a.json<{ peers: Array<{ name: string; path: string }> }>(['status'])
    assert.equal(conn.peers.find((x) => x.name === 'a2')?.path, 'direct')
  })

  it('when the direct path dies, traffic falls back to the relay within about a second', {
    skip,
  }, async () => {
    const a = ml.node('a')
    const bIp = await ipOf(ml.node('b'))
    await waitFor(async () => (await peerPath(a, 'b'))?.path === 'direct', { timeoutMs: 30_000 })
    // the path to cut is direct: it carries traffic with every relay blocked
    const proof = await pingWithRelaysBlocked(ml, a, bIp)
    console.log(`# before the cut, every relay blocked: ${proof.received}/${proof.sent} replies`)
    assert.ok(proof.received >= proof.sent - 2, `only ${proof.received}/${proof.sent} replies: not direct`)
    // cut only the direct path: natA drops everything to natB's public address (the relays are
    // elsewhere on the public segment, so the relayed path survives)
    const natA = ml.lab.router('nata')
    const natBWan = ml.lab.router('natb').wanAddress
    const windowMs = 2000
    try {
      const r = await pingAcrossFault(a, bIp, { count: 60, windowMs }, async () => {
        const cut = await natA.exec('iptables', ['-I', 'FORWARD', '-d', natBWan, '-j', 'DROP'])
        assert.equal(cut.code, 0, cut.stderr)
      })
      console.log(
        `# direct path cut: first reply over the relay ${r.recoveryMs?.toFixed(0)} ms after the cut (cut took ${r.faultMs.toFixed(0)} ms); ${r.got}/${r.expected} replies after ${windowMs} ms; longest gap ${r.gap.toFixed(0)} ms`,
      )
      assert.equal(r.code, 0, r.output)
      assertRecovered(r, windowMs, 'direct path cut')
      const after = await peerPath(a, 'b')
      assert.equal(after?.path, 'relay')
      assert.match(String(after?.via), /^relay[12]$/)
    } finally {
      await natA.exec('iptables', ['-D', 'FORWARD', '-d', natBWan, '-j', 'DROP'])
    }
  })

  it('killing a relay does not disturb a direct path', { skip }, async () => {
    const a = ml.node('a')
    const bIp = await ipOf(ml.node('b'))
    await waitFor(async () => (await peerPath(a, 'b'))?.path === 'direct', { timeoutMs: 30_000 })
    const proof = await pingWithRelaysBlocked(ml, a, bIp)
    console.log(`# before the kill, every relay blocked: ${proof.received}/${proof.sent} replies`)
    assert.ok(proof.received >= proof.sent - 2, `only ${proof.received}/${proof.sent} replies: not direct`)
    const relay2 = ml.node('relay2')
    const windowMs = 1000
    // every packet must be answered: ping's exit status says so (it runs with a deadline)
    const r = await pingAcrossFault(a, bIp, { count: 40, windowMs, allReplies: true }, () =>
      relay2.host.kill(daemonPid(relay2), 'SIGKILL'),
    )
    console.log(
      `# relay2 killed under direct traffic: first reply ${r.recoveryMs?.toFixed(0)} ms after the kill; ${replies(r.output)}/40 replies; longest gap ${r.gap.toFixed(0)} ms`,
    )
    assert.equal(r.code, 0, `not every packet was answered:\n${r.output}`)
    assertRecovered(r, windowMs, 'relay2 killed')
    // still direct after the kill: relay1 blocked, relay2 dead, traffic flows
    const still = await pingWithRelaysBlocked(ml, a, bIp)
    console.log(`# after the kill, every relay blocked: ${still.received}/${still.sent} replies`)
    assert.ok(still.received >= still.sent - 2, `only ${still.received}/${still.sent} replies: not direct`)
    assert.equal((await peerPath(a, 'b'))?.path, 'direct')
  })
})

describe('NAT traversal: two home LANs behind NATs that answer unsolicited SYNs with a RST', () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createNatLab({ prefix: 'mlrst', filter: 'reject' })
  })
  after(async () => ml?.teardown())

  it('hole punching survives the resets: the tunnel goes direct, and stays up with every relay blocked', {
    skip,
  }, async () => {
    const a = ml.node('a')
    const b = ml.node('b')
    await waitFor(() => reserved(b), { timeoutMs: 15_000, what: 'b to hold a relay reservation' })
    const bIp = await ipOf(b)
    const t0 = Date.now()
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'first ping a → b (relayed)',
    })
    const t1 = Date.now()
    const direct = await msUntilDirect(a, 'b', t1, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'a direct path a ↔ b through the rejecting NATs',
      peer: b,
    })
    console.log(`# reset routers: first reply a → b after ${t1 - t0} ms; direct ${direct} ms after it`)
    assert.equal((await peerPath(b, 'a'))?.path, 'direct')
    // "direct" is what the nodes say; the proof is traffic with no relay to carry it
    const r = await pingWithRelaysBlocked(ml, a, bIp)
    console.log(
      `# reset routers, every relay blocked: ${r.received}/${r.sent} replies, longest gap ${r.gap.toFixed(0)} ms`,
    )
    assert.ok(r.received >= r.sent - 2, `only ${r.received}/${r.sent} replies with the relays blocked`)
    assert.ok(r.gap < 1000, `a ${r.gap} ms gap with the relays blocked`)
  })
})

describe('NAT traversal: one side behind a symmetric NAT', () => {
  let ml: MeshLab
  const procs: LabProcess[] = []
  before(async () => {
    if (skip) return
    ml = await createNatLab({ prefix: 'mlsym', symmetricB: true })
  })
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await ml?.teardown()
  })

  it('the tunnel stays on the relay and works; meshlan ping says why it is not direct', {
    skip,
  }, async () => {
    const a = ml.node('a')
    const b = ml.node('b')
    await waitFor(() => reserved(b, 2), { timeoutMs: 20_000, what: 'b to hold two relay reservations' })
    const bIp = await ipOf(b)
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 10_000,
      what: 'ping a → b over the relay',
    })
    // give hole punching its chance to fail
    await waitFor(async () => (await peerPath(a, 'b'))?.why === 'symmetric-nat', {
      timeoutMs: 30_000,
      what: 'the symmetric NAT to be named as the reason',
    })
    assert.equal((await peerPath(a, 'b'))?.path, 'relay')
    procs.push(await startIperf3Server(b.host, 5201))
    const ip = await a.exec('iperf3', ['-c', bIp, '-t', '3', '-J'], 60_000)
    const mbps = iperf3Received(ip).bitsPerSecond / 1e6
    console.log(`# iperf3 over the relay (symmetric NAT): ${mbps.toFixed(0)} Mbit/s`)
    const r = await a.run(['ping', 'b', '--count', '1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /relay/)
    assert.match(r.stdout, /symmetric/i)
  })

  it('a relay that black-holes traffic (drops all, no reset): the tunnel moves to the other relay', {
    skip,
  }, async () => {
    const a = ml.node('a')
    const bIp = await ipOf(ml.node('b'))
    const before = await peerPath(a, 'b')
    assert.equal(before?.path, 'relay')
    const via = String(before?.via)
    assert.match(via, /^relay[12]$/)
    const victim = ml.node(via)
    const other = via === 'relay2' ? 'relay1' : 'relay2'
    // nothing closes: every packet to and from the relay's namespace vanishes
    const rules = [
      ['INPUT', '-j', 'DROP'],
      ['OUTPUT', '-j', 'DROP'],
    ]
    const block = async (op: '-I' | '-D') => {
      for (const tool of ['iptables', 'ip6tables'])
        for (const r of rules) {
          const res = await victim.host.exec(tool, [op, ...r])
          if (op === '-I') assert.equal(res.code, 0, res.stderr)
        }
    }
    // two missed rounds on a's side (~3.3 s), and when b's redial races a's, two on b's (~6.4 s)
    const windowMs = 10_000
    try {
      const r = await pingAcrossFault(a, bIp, { count: 150, windowMs }, () => block('-I'))
      const after = await peerPath(a, 'b')
      console.log(
        `# relay ${via} black-holed under traffic: first reply via ${after?.via} ${r.recoveryMs?.toFixed(0)} ms after; ${r.got}/${r.expected} replies after ${windowMs} ms; longest gap ${r.gap.toFixed(0)} ms`,
      )
      assert.equal(r.code, 0, r.output)
      assertRecovered(r, windowMs, `relay ${via} black-holed`)
      assert.equal(after?.path, 'relay')
      assert.equal(after?.via, other, `the path did not move from ${via} to ${other}`)
    } finally {
      await block('-D')
    }
    // the next test kills the relay in use and wants the other one ready: b reserved on both again
    await waitFor(() => reserved(ml.node('b'), 2), {
      timeoutMs: 30_000,
      what: 'b to reserve on both relays again',
    })
  })

  it('killing the relay in use: traffic resumes through the second relay within 3 s', { skip }, async () => {
    const a = ml.node('a')
    const bIp = await ipOf(ml.node('b'))
    const before = await peerPath(a, 'b')
    assert.equal(before?.path, 'relay')
    const via = before?.via
    assert.match(String(via), /^relay[12]$/)
    const victim = via === 'relay2' ? ml.node('relay2') : ml.node('relay1')
    const other = via === 'relay2' ? 'relay1' : 'relay2'
    const windowMs = 3000
    const r = await pingAcrossFault(a, bIp, { count: 80, windowMs }, () =>
      victim.host.kill(daemonPid(victim), 'SIGKILL'),
    )
    const after = await peerPath(a, 'b')
    console.log(
      `# relay ${victim.name} killed under traffic: first reply via ${after?.via} ${r.recoveryMs?.toFixed(0)} ms after the kill; ${r.got}/${r.expected} replies after ${windowMs} ms; longest gap ${r.gap.toFixed(0)} ms`,
    )
    assert.equal(r.code, 0, r.output)
    assertRecovered(r, windowMs, `relay ${victim.name} killed`)
    assert.equal(after?.path, 'relay')
    assert.equal(after?.via, other, `the path did not move from ${via} to ${other}`)
  })
})

describe('NAT traversal: relays without configuration (relay = "auto", the default)', () => {
  let ml: MeshLab
  before(async () => {
    if (skip) return
    ml = await createAutoRelayLab('mlauto')
  })
  after(async () => ml?.teardown())

  it('the public member relays unasked: a tunnel within seconds of `up`, then direct', {
    skip,
  }, async () => {
    const pub = ml.node('pub')
    const a = ml.node('a')
    const b = ml.node('b')
    for (const n of [pub, a, b])
      assert.doesNotMatch(readFileSync(join(n.state, 'config.toml'), 'utf8'), /relay/)
    await pub.cli(['init', '--name', 'pub'])
    await pub.cli(['network', 'create', 'home'])
    await pub.cli(['up'])
    const join_ = (await pub.cli(['key', 'create', 'home', '--reusable', '--allow-all'])).trim()
    await a.cli(['join', join_, '--name', 'a'])
    await b.cli(['join', join_, '--name', 'b'])
    const tA = Date.now()
    await a.cli(['up'])
    await b.cli(['up'])
    const tUp = Date.now()
    const bIp = await waitFor(
      async () => {
        const s = await b.status()
        return s.self.ip != null && s.self.bound ? s.self.ip : false
      },
      { timeoutMs: 15_000, intervalMs: 50, what: "b's overlay address" },
    )
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'first ping a → b',
    })
    const first = Date.now() - tUp
    const nc = await pub.json<Netcheck>(['netcheck'])
    console.log(`# auto relay: pub says "${nc.relayReason}"`)
    assert.equal(nc.relayMode, 'auto')
    assert.equal(nc.relay, true)
    assert.match(nc.relayReason, /reachable from outside/)
    const ncA = await a.json<Netcheck>(['netcheck'])
    assert.equal(ncA.relay, false)
    assert.match(ncA.relayReason, /behind a NAT|not relaying/)
    const direct = await msUntilDirect(a, 'b', tUp, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'a direct path a ↔ b',
    })
    console.log(
      `# auto relay: a and b up in ${tUp - tA} ms; first reply a → b ${first} ms after b's up; direct after ${direct} ms`,
    )
    assert.ok(first < 5_000, `first reply ${first} ms after up`)
  })
})

describe('NAT traversal: a home router that maps ports (miniupnpd, UPnP IGD v2)', () => {
  let ml: Awaited<ReturnType<typeof createUpnpLab>>
  before(async () => {
    if (skip) return
    ml = await createUpnpLab('mlupnp')
  })
  after(async () => ml?.teardown())

  it('the node maps its port, relays (auto), is dialled directly with every relay blocked, and unmaps on down', {
    skip,
  }, async () => {
    const a = ml.node('a')
    const c = ml.node('c')
    const relay1 = ml.node('relay1').host
    const wan = ml.lab.router('nata').wanAddress
    const mapped = await waitFor(
      async () => (await a.json<Netcheck>(['netcheck'])).portMapping.mapping ?? false,
      { timeoutMs: 30_000, intervalMs: 100, what: "a's port mapping" },
    )
    assert.equal(mapped.protocol, 'upnp')
    assert.equal(mapped.external, `/ip4/${wan}/tcp/7946`)
    const leaseS = (mapped.expiresAt - Date.now()) / 1000
    assert.ok(leaseS > 3000 && leaseS <= 3600, `lease ${leaseS} s`)
    const aLan = ml.lab.host('a').address('lana')
    assert.match(
      readFileSync(ml.upnp.leaseFile, 'utf8'),
      new RegExp(`^TCP:7946:${aLan.replaceAll('.', '\\.')}:7946:`, 'm'),
    )
    const nc = await waitFor(
      async () => {
        const n = await a.json<Netcheck>(['netcheck'])
        return n.relay ? n : false
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'a to relay (auto) through its mapping' },
    )
    console.log(`# upnp: a says "${nc.relayReason}"`)
    assert.match(
      nc.relayReason,
      new RegExp(`reachable from outside .*${wan.replaceAll('.', '\\.')}/tcp/7946`),
    )
    // a peer outside dials the mapped address: with every relay (relay1; a is the destination)
    // blocked there is no relayed path and so no hole punching, only the router's mapping. c must
    // have a's record with that address first: once relay1 is blocked no record reaches c (CI
    // failed twice here with path none, the block right after a's netcheck said relaying)
    const tKnown = Date.now()
    await waitFor(async () => (await peerPath(c, 'a'))?.endpoints.includes(mapped.external) ?? false, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `c to hold a's record with ${mapped.external}`,
    })
    console.log(
      `# upnp: c knew a's mapped address ${Date.now() - tKnown} ms after a said it relays; c's path to a: ${(await peerPath(c, 'a'))?.path ?? 'none'}`,
    )
    const aIp = await ipOf(a)
    const rules = [
      ['INPUT', '-j', 'DROP'],
      ['OUTPUT', '-j', 'DROP'],
    ]
    for (const r of rules) assert.equal((await relay1.exec('iptables', ['-I', ...r])).code, 0)
    try {
      const t0 = Date.now()
      await waitFor(async () => (await c.exec('ping', ['-c', '1', '-W', '1', aIp])).code === 0, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'c → a with relay1 blocked',
      }).catch(async (err: Error) => {
        // a failure here (once in CI) says what c knew of a and why its dials failed
        await explainPath('upnp: c → a with relay1 blocked', c, 'a')
        throw err
      })
      const first = Date.now() - t0
      const p = await c.exec('ping', ['-D', '-i', '0.1', '-c', '30', '-W', '1', aIp], 60_000)
      const got = replies(p.stdout)
      console.log(
        `# upnp: c → a with every relay blocked: first reply after ${first} ms, ${got}/30 replies, longest gap ${longestGap(p.stdout).toFixed(0)} ms`,
      )
      assert.ok(got >= 28, `only ${got}/30 replies`)
      assert.equal((await peerPath(c, 'a'))?.path, 'direct')
    } finally {
      for (const r of rules) await relay1.exec('iptables', ['-D', ...r])
    }
    // down removes the mapping from the router
    await a.cli(['down'])
    await waitFor(() => !readFileSync(ml.upnp.leaseFile, 'utf8').includes(':7946:'), {
      timeoutMs: 10_000,
      what: 'the mapping to go from the router on down',
    })
    // and up again: time from `up` to the mapping and to c's first reply
    const tUp = Date.now()
    await a.cli(['up'])
    await waitFor(async () => (await a.json<Netcheck>(['netcheck'])).portMapping.mapping != null, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: "a's port mapping after up",
    })
    const tMap = Date.now() - tUp
    await waitFor(
      async () =>
        (await peerPath(c, 'a'))?.path === 'direct' ||
        ((await c.exec('ping', ['-c', '1', '-W', '1', aIp])).code === 0 &&
          (await peerPath(c, 'a'))?.path === 'direct'),
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'c → a direct after up',
      },
    )
    console.log(`# upnp: a up → mapped after ${tMap} ms; c → a direct after ${Date.now() - tUp} ms`)
  })
})
