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
import { canRunLabs, type Host, type LabProcess, waitFor } from '@meshlan/lab'
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
        printer = await lab.addHost('printer', { segment: 'office' })
        return [owner, router, client]
      },
    })
    printerIp = printer.address('office')
    await formMesh(ml, {
      owner: 'owner',
      keys: { admin: null },
      members: { router: 'admin', client: 'admin' },
      config: {
        router: `[routes]\nadvertise = ["${OFFICE}"]\n`,
        client: '[routes]\naccept = true\n',
      },
    })
    iperf = printer.spawn('iperf3', ['-s', '-p', '5201'])
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
    assert.equal(r.code, 0, r.stderr)
    const routed = Math.round(JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e6)
    // the same tunnel node to node, for comparison
    const server = ml.node('router').host.spawn('iperf3', ['-s', '-p', '5202'])
    await waitFor(async () => (await ml.node('router').exec('ss', ['-ltn'])).stdout.includes(':5202'), {
      timeoutMs: 5000,
    })
    const d = await ml
      .node('client')
      .exec('iperf3', ['-c', await ipOf(ml.node('router')), '-p', '5202', '-t', '3', '-J'])
    server.kill()
    const direct =
      d.code === 0 ? Math.round(JSON.parse(d.stdout).end.sum_received.bits_per_second / 1e6) : null
    console.log(
      `# routed: reachable ${ms} ms after the approve command; iperf3 client → plain host ${routed} Mbit/s, client → router ${direct} Mbit/s`,
    )
    assert.ok(routed > 0)

    const t0 = Date.now()
    await ml.node('owner').cli(['route', 'revoke', 'router', OFFICE])
    await waitFor(async () => !(await reach()), { timeoutMs: 5000, intervalMs: 100, what: 'the route to go' })
    const gone = Date.now() - t0
    console.log(`# route revoked: unreachable after ${gone} ms`)
    assert.ok(gone < 2000 + 1000, `revocation took ${gone} ms (ping timeout 1 s included)`)
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
