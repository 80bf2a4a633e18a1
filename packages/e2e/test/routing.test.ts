/**
 * Subnet router end to end (issue 9), in the lab: a router node with a second segment holding a
 * plain host (no meshlan, no route back to the overlay), a client that accepts routes. Nothing is
 * routed before the owner approves; after approval the client pings and runs iperf3 to the plain
 * host; after revocation it cannot, within 2 s.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  canRunLabs,
  type Host,
  iperf3Received,
  type LabProcess,
  startIperf3Server,
  waitFor,
} from '@meshlan/lab'
import { createMeshLab, formMesh, ipOf, type MeshLab } from '../src/index.ts'

const can = canRunLabs()
const skip = can.ok ? false : `needs a lab: ${can.reason}`
// Skipped per test, so the summary counts them. Where labs must run (MESHLAN_REQUIRE_LABS=1) a
// missing prerequisite fails loudly instead.
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}

const OFFICE = '192.168.50.0/24'

describe('subnet router: a plain LAN host reached through a member', () => {
  let ml: MeshLab
  let printer: Host
  let printerIp = ''
  let iperf: LabProcess | null = null
  before(async () => {
    if (!can.ok) return
    ml = await createMeshLab({
      prefix: 'mlrt',
      build: async (lab) => {
        await lab.addSegment('lan', { cidr: '198.18.30.0/24' })
        await lab.addSegment('office', { cidr: OFFICE })
        const owner = await lab.addHost('owner', { segment: 'lan' })
        const router = await lab.addHost('router', { segment: 'lan' })
        await router.attach('office')
        const client = await lab.addHost('client', { segment: 'lan' })
        const guest = await lab.addHost('guest', { segment: 'lan' })
        printer = await lab.addHost('printer', { segment: 'office' })
        return [owner, router, client, guest]
      },
    })
    printerIp = printer.address('office')
    await formMesh(ml, {
      owner: 'owner',
      // the guest's key reaches the router itself, not the prefix behind it
      keys: { admin: null, guest: { rules: [{ to: ['node:router'] }] } },
      members: { router: 'admin', client: 'admin', guest: 'guest' },
      config: {
        router: `[routes]\nadvertise = ["${OFFICE}"]\n`,
        client: '[routes]\naccept = true\n',
        guest: '[routes]\naccept = true\n',
      },
    })
    iperf = await startIperf3Server(printer, 5201)
  })
  after(async () => {
    iperf?.kill()
    await ml?.teardown()
  })

  const reach = async (): Promise<boolean> =>
    (await ml.node('client').exec('ping', ['-c', '1', '-W', '1', printerIp])).code === 0

  it('nothing is routed before the owner approves', { skip }, async () => {
    const s = await ml.node('router').status()
    assert.deepEqual(s.self.routes.advertised, [OFFICE])
    assert.deepEqual(s.self.routes.approved, [])
    assert.equal(await reach(), false, 'the plain host answered before approval')
  })

  it('after approval the client pings the plain host and runs iperf3 to it; revocation ends it within 2 s', {
    skip,
  }, async () => {
    const t1 = Date.now()
    await ml.node('owner').cli(['route', 'approve', 'router', OFFICE])
    await waitFor(reach, { timeoutMs: 10_000, intervalMs: 100, what: 'the plain host behind the router' })
    const ms = Date.now() - t1
    const status = await ml.node('client').status()
    const viaRouter = status.peers.find((p) => p.name === 'router')
    assert.deepEqual(viaRouter?.routes, [OFFICE])
    const r = await ml.node('client').exec('iperf3', ['-c', printerIp, '-p', '5201', '-t', '3', '-J'])
    const routed = Math.round(iperf3Received(r).bitsPerSecond / 1e6)
    // the same tunnel node to node, for comparison
    const server = await startIperf3Server(ml.node('router').host, 5202)
    const d = await ml
      .node('client')
      .exec('iperf3', ['-c', await ipOf(ml.node('router')), '-p', '5202', '-t', '3', '-J'])
    server.kill()
    const direct = Math.round(iperf3Received(d).bitsPerSecond / 1e6)
    console.log(
      `# routed: reachable ${ms} ms after the approve command; iperf3 client → plain host ${routed} Mbit/s, client → router ${direct} Mbit/s`,
    )
    assert.ok(routed > 0)

    // a key without the prefix: the route is there for it too, its packets are not
    const guest = ml.node('guest')
    const g = await guest.exec('ping', ['-c', '2', '-W', '1', printerIp])
    assert.notEqual(g.code, 0, 'a key without the prefix reached the plain host')
    const drops = (await guest.status()).drops
    assert.ok((drops.ACL ?? 0) >= 2, `the guest's own filter refused it: ${JSON.stringify(drops)}`)

    const t0 = Date.now()
    await ml.node('owner').cli(['route', 'revoke', 'router', OFFICE])
    await waitFor(async () => !(await reach()), { timeoutMs: 5000, intervalMs: 100, what: 'the route to go' })
    const gone = Date.now() - t0
    console.log(`# route revoked: unreachable after ${gone} ms`)
    assert.ok(gone < 2000 + 1000, `revocation took ${gone} ms (ping timeout 1 s included)`)
  })
})

const BRANCH = '192.168.51.0/24'

// Site to site: two plain hosts on 1500-byte LANs, each behind a member that routes its LAN, the
// tunnel 1400 bytes between them. Neither end's MSS fits the tunnel; with ICMP "fragmentation
// needed" dropped (routers that drop), only the routers' MSS clamp keeps a transfer from stalling.
describe('subnet routers site to site: the MSS clamp', () => {
  let ml: MeshLab
  let printer: Host
  let laptop: Host
  let iperf: LabProcess | null = null
  before(async () => {
    if (!can.ok) return
    ml = await createMeshLab({
      prefix: 'mlss',
      build: async (lab) => {
        await lab.addSegment('lan', { cidr: '198.18.33.0/24' })
        await lab.addSegment('office', { cidr: OFFICE })
        await lab.addSegment('branch', { cidr: BRANCH })
        const owner = await lab.addHost('owner', { segment: 'lan' })
        const hq = await lab.addHost('hq', { segment: 'lan' })
        await hq.attach('office')
        const br = await lab.addHost('br', { segment: 'lan' })
        await br.attach('branch')
        printer = await lab.addHost('printer', { segment: 'office' })
        laptop = await lab.addHost('laptop', { segment: 'branch' })
        return [owner, hq, br]
      },
    })
    await formMesh(ml, {
      owner: 'owner',
      keys: { admin: null },
      members: { hq: 'admin', br: 'admin' },
      config: {
        hq: `[routes]\nadvertise = ["${OFFICE}"]\naccept = true\n`,
        br: `[routes]\nadvertise = ["${BRANCH}"]\naccept = true\n`,
      },
    })
    await ml.node('owner').cli(['route', 'approve', 'hq', OFFICE])
    await ml.node('owner').cli(['route', 'approve', 'br', BRANCH])
    // the laptop reaches the office through its branch router
    const via = ml.node('br').host.address('branch')
    assert.equal((await laptop.exec('ip', ['route', 'replace', OFFICE, 'via', via])).code, 0)
    const blackhole = ['-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP']
    for (const h of [printer, laptop])
      assert.equal((await h.exec('iptables', ['-A', 'INPUT', ...blackhole])).code, 0)
    iperf = await startIperf3Server(printer, 5201)
  })
  after(async () => {
    iperf?.kill()
    await ml?.teardown()
  })

  const bulk = (timeoutS: number) =>
    laptop.exec(
      'timeout',
      [String(timeoutS), 'iperf3', '-c', printer.address('office'), '-p', '5201', '-R', '-n', '40M', '-J'],
      {
        timeoutMs: (timeoutS + 5) * 1000,
      },
    )

  // What CI shows when the transfer fails (once, 2026-12-01: "Connection reset by peer" 0.4 s in):
  // iperf3's own account, the server's, both routers' conntrack and rules, and their logs.
  const explain = async (client: string) => {
    console.log(`# iperf3 client output:\n${client.slice(0, 4000)}`)
    console.log(`# iperf3 server output:\n${iperf?.output().slice(-2000)}`)
    for (const h of [laptop, printer])
      console.log(`# ${h.name}: nstat\n${(await h.exec('nstat', ['-as'])).stdout}`)
    for (const n of ['hq', 'br']) {
      const node = ml.node(n)
      for (const cmd of [
        ['cat', '/proc/net/nf_conntrack'],
        ['iptables-save'],
        ['ip', 'route'],
        ['sysctl', 'net.ipv4.ip_forward'],
      ])
        console.log(`# ${n}: ${cmd.join(' ')}\n${(await node.exec(cmd[0], cmd.slice(1))).stdout}`)
      const log = readFileSync(join(node.state, 'daemon.log'), 'utf8').split('\n').slice(-30)
      console.log(`# ${n}'s log, last 30 lines:\n${log.join('\n')}`)
    }
  }

  it('a 40 MB transfer between the two 1500-byte LANs completes; without the clamp it stalls', {
    skip,
  }, async () => {
    await waitFor(
      async () => (await laptop.exec('ping', ['-c', '1', '-W', '1', printer.address('office')])).code === 0,
      {
        timeoutMs: 15_000,
        intervalMs: 200,
        what: 'the office from the branch laptop',
      },
    )
    for (const h of [laptop, printer]) assert.match((await h.exec('ip', ['link', 'show'])).stdout, /mtu 1500/)
    const r = await bulk(30)
    if (r.code !== 0 || !r.stdout.includes('sum_received')) await explain(r.stdout)
    assert.notEqual(r.code, 124, 'the transfer stalled with the clamp (timeout after 30 s)')
    const got = iperf3Received(r)
    console.log(
      `# MSS clamp: 40 MB office → branch laptop (both LANs 1500, tunnel 1400, ICMP frag-needed dropped): ${got.seconds.toFixed(1)} s`,
    )
    assert.ok(got.bytes >= 40e6, `received ${got.bytes} bytes`)
    // the negative control: the same transfer with both routers' clamp rules (only those) removed
    for (const n of ['hq', 'br']) {
      for (const dir of ['-i', '-o']) {
        const rule = [
          dir,
          'meshlan0',
          '-p',
          'tcp',
          '--tcp-flags',
          'SYN,RST',
          'SYN',
          '-j',
          'TCPMSS',
          '--clamp-mss-to-pmtu',
        ]
        const r = await ml.node(n).exec('iptables', ['-t', 'mangle', '-D', 'MESHLAN-FORWARD', ...rule])
        assert.equal(r.code, 0, r.stderr)
      }
    }
    const ping = await laptop.exec('ping', ['-c', '1', '-W', '2', printer.address('office')])
    assert.equal(ping.code, 0, 'the office still answers small packets without the clamp')
    const stalled = await bulk(8)
    // a stall ends in `timeout` (exit 124, no JSON): nothing complete was received
    const bytes = stalled.code === 124 ? 0 : iperf3Received(stalled).bytes
    console.log(`# without the clamp: exit ${stalled.code}, ${Math.round(bytes / 1e6)} MB in 8 s`)
    assert.ok(bytes < 40e6, 'the transfer completed without the clamp: this test does not test the clamp')
  })
})

describe('two subnet routers for one prefix (high availability)', () => {
  let ml: MeshLab
  let hostIp = ''
  before(async () => {
    if (!can.ok) return
    ml = await createMeshLab({
      prefix: 'mlha',
      build: async (lab) => {
        await lab.addSegment('lan', { cidr: '198.18.31.0/24' })
        await lab.addSegment('office', { cidr: OFFICE })
        const owner = await lab.addHost('owner', { segment: 'lan' })
        const r1 = await lab.addHost('r1', { segment: 'lan' })
        await r1.attach('office')
        const r2 = await lab.addHost('r2', { segment: 'lan' })
        await r2.attach('office')
        const client = await lab.addHost('client', { segment: 'lan' })
        hostIp = (await lab.addHost('nas', { segment: 'office' })).address('office')
        return [owner, r1, r2, client]
      },
    })
    const advertise = `[routes]\nadvertise = ["${OFFICE}"]\n`
    await formMesh(ml, {
      owner: 'owner',
      keys: { admin: null },
      members: { r1: 'admin', r2: 'admin', client: 'admin' },
      config: { r1: advertise, r2: advertise, client: '[routes]\naccept = true\n' },
    })
    for (const r of ['r1', 'r2']) await ml.node('owner').cli(['route', 'approve', r, OFFICE])
  })
  after(async () => ml?.teardown())

  it('kill the primary: traffic resumes through the other within 3 s', { skip }, async () => {
    const client = ml.node('client')
    const reach = async () => (await client.exec('ping', ['-c', '1', '-W', '1', hostIp])).code === 0
    await waitFor(reach, { timeoutMs: 15_000, intervalMs: 200, what: 'the LAN host through a router' })
    const s = await client.status()
    const primary = s.peers.find((p) => p.routes.includes(OFFICE))?.name
    assert.ok(primary === 'r1' || primary === 'r2', `a primary serves ${OFFICE}: ${JSON.stringify(s.peers)}`)
    // a crash, not a goodbye: SIGKILL the primary's daemon (its pid file is in its state directory)
    const pid = readFileSync(join(ml.node(primary).state, 'daemon.pid'), 'utf8').trim()
    const killed = await ml.node(primary).exec('kill', ['-9', pid])
    assert.equal(killed.code, 0, killed.stderr)
    const stopped = Date.now()
    await waitFor(reach, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'the LAN host through the other router',
    })
    const gap = Date.now() - stopped
    const after = await client.status()
    console.log(
      `# HA: ${primary}'s daemon killed (SIGKILL); the LAN host answered through the other router ${gap} ms later`,
    )
    assert.ok(
      after.peers.some((p) => p.name !== primary && p.routes.includes(OFFICE)),
      'the other router is primary',
    )
    assert.ok(gap < 3000, `takeover took ${gap} ms`)
  })
})

const SITE = '203.0.113.0/24' // a segment only the exit node is on: "the internet"
const HOME = '192.168.60.0/24' // the client's own LAN

describe('exit node: all non-local traffic through one member', () => {
  let ml: MeshLab
  let siteIp = ''
  let homeIp = ''
  let web: Host
  let iperfWeb: LabProcess | null = null
  before(async () => {
    if (!can.ok) return
    ml = await createMeshLab({
      prefix: 'mlex',
      build: async (lab) => {
        await lab.addSegment('lan', { cidr: '198.18.32.0/24' })
        await lab.addSegment('site', { cidr: SITE })
        await lab.addSegment('home', { cidr: HOME })
        const owner = await lab.addHost('owner', { segment: 'lan' })
        const exit = await lab.addHost('exit', { segment: 'lan' })
        await exit.attach('site')
        const client = await lab.addHost('client', { segment: 'lan' })
        await client.attach('home')
        const guest = await lab.addHost('guest', { segment: 'lan' })
        web = await lab.addHost('web', { segment: 'site' })
        siteIp = web.address('site')
        homeIp = (await lab.addHost('printer', { segment: 'home' })).address('home')
        return [owner, exit, client, guest]
      },
    })
    await formMesh(ml, {
      owner: 'owner',
      keys: { admin: null, guest: { rules: [{ to: ['node:exit'] }] } },
      members: { exit: 'admin', client: 'admin', guest: 'guest' },
      config: {
        exit: '[routes]\nadvertise_exit_node = true\n',
        // the attack of the issue 9 review: a member lists an internet address in its record, hoping
        // other members' traffic to it skips the exit node (their bypass must not take it)
        guest: `announce = ["/ip4/${ml.node('guest').host.address('lan')}/tcp/7946", "/ip4/${siteIp}/tcp/7946"]\n`,
      },
    })
    iperfWeb = await startIperf3Server(web, 5201)
  })
  after(async () => {
    iperfWeb?.kill()
    await ml?.teardown()
  })

  const pings = async (node: string, ip: string): Promise<boolean> =>
    (await ml.node(node).exec('ping', ['-c', '1', '-W', '1', ip])).code === 0
  const tables = async (node: string): Promise<string> => {
    const n = ml.node(node)
    // IPv4 (what the exit client touches): IPv6 link-local routes come and go on their own schedule
    return `${(await n.exec('ip', ['-4', 'rule', 'show'])).stdout}${(await n.exec('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout}`
  }

  it('an unapproved exit node is refused with the reason; nothing changes', { skip }, async () => {
    const before = await tables('client')
    const r = await ml.node('client').run(['set', '--exit-node', 'exit'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /not an approved exit node: the owner runs `meshlan route approve exit exit`/)
    assert.equal(await tables('client'), before)
  })

  it('the client reaches a host only the exit node is on, keeps its LAN on request, and clearing restores its tables exactly', {
    skip,
  }, async () => {
    await ml.node('owner').cli(['route', 'approve', 'exit', 'exit'])
    const before = await tables('client')
    assert.equal(await pings('client', siteIp), false, 'the site answered without the exit node')
    assert.equal(await pings('client', homeIp), true, 'the home LAN answers before')

    // without LAN access: everything non-local goes to the exit node, the home LAN too
    const t0 = Date.now()
    const set = JSON.parse(await ml.node('client').cli(['--json', 'set', '--exit-node', 'exit']))
    assert.equal(set.exitNode, 'exit')
    assert.equal(set.live, true)
    await waitFor(() => pings('client', siteIp), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'the site via the exit node',
    })
    console.log(`# exit node: the site answered ${Date.now() - t0} ms after \`meshlan set --exit-node\``)
    const exitTable = (await ml.node('client').exec('ip', ['-4', 'route', 'show', 'table', '7946'])).stdout
    assert.match(exitTable, /throw/, `the underlay is bypassed: ${exitTable}`)
    assert.doesNotMatch(
      exitTable,
      new RegExp(`throw ${siteIp.replaceAll('.', '\\.')}\\b`),
      'a member chose a bypass',
    )
    // an inbound connection from outside the tunnel (a LAN host here; a member dialling from a new
    // address alike) is answered where it came from, not into the exit node
    const inbound = await startIperf3Server(ml.node('client').host, 5301)
    try {
      const lanIp = ml.node('client').host.address('lan')
      const r = await ml.node('guest').exec('iperf3', ['-c', lanIp, '-p', '5301', '-t', '1', '-J'], 20_000)
      assert.ok(iperf3Received(r).bytes > 0)
    } finally {
      inbound.kill()
    }
    assert.equal((await ml.node('client').status()).self.exitNode, 'exit')
    assert.equal(await pings('client', homeIp), false, 'without LAN access the home LAN is off')
    // the mesh itself keeps working (the underlay never loops into the tunnel), and so does .mesh
    const ownerIp = await ipOf(ml.node('owner'))
    assert.equal(await pings('client', ownerIp), true)
    const clientIp = await ipOf(ml.node('client'))
    const dig = await ml
      .node('client')
      .exec('dig', ['+short', '+time=2', '+tries=1', `@${clientIp}`, 'owner.mesh'])
    assert.equal(
      dig.stdout.trim(),
      ownerIp,
      `owner.mesh while using the exit node: ${dig.stdout}${dig.stderr}`,
    )
    const r = await ml.node('client').exec('iperf3', ['-c', siteIp, '-p', '5201', '-t', '2', '-J'])
    console.log(
      `# exit node: iperf3 client → site ${Math.round(iperf3Received(r).bitsPerSecond / 1e6)} Mbit/s`,
    )

    await ml.node('client').cli(['set', '--exit-node-allow-lan-access'])
    await waitFor(() => pings('client', homeIp), {
      timeoutMs: 5000,
      intervalMs: 100,
      what: 'the home LAN back',
    })
    assert.equal(await pings('client', siteIp), true, 'the site still through the exit node')
    assert.match(readFileSync(join(ml.node('client').state, 'config.toml'), 'utf8'), /exit_node = "exit"/)

    await ml.node('client').cli(['set', '--exit-node', ''])
    await waitFor(async () => !(await pings('client', siteIp)), {
      timeoutMs: 5000,
      intervalMs: 100,
      what: 'the exit route to go',
    })
    assert.equal(await pings('client', homeIp), true)
    assert.equal(await tables('client'), before, 'clearing the exit node restores rules and routes exactly')
  })

  it('a key without `internet` cannot use the exit node', { skip }, async () => {
    const guest = ml.node('guest')
    await guest.cli(['set', '--exit-node', 'exit'])
    assert.equal(await pings('guest', siteIp), false, 'a key without internet reached the site')
    const drops = (await guest.status()).drops
    assert.ok((drops.ACL ?? 0) >= 1, `the guest's own filter refused it: ${JSON.stringify(drops)}`)
    await guest.cli(['set', '--exit-node', ''])
  })
})
