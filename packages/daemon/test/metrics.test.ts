/**
 * The Prometheus endpoint (metrics.ts) over a fake node view: metric names and values, series
 * that follow the view between scrapes, 404 and 405, the listener closed on stop, where it may
 * listen (metrics-listen.ts), and the daemon's wiring (start, reload, stop).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createLogger } from '@meshlan/mesh'
import { Controller } from '../src/controller.ts'
import { createDaemon, type Daemon } from '../src/daemon.ts'
import { MetricsServer, type MetricsSnapshot } from '../src/metrics.ts'
import { metricsBind, parseMetricsListen } from '../src/metrics-listen.ts'
import { StateDir } from '../src/state.ts'

const lines: string[] = []
const log = createLogger('test', { level: 'info', sink: (l) => lines.push(l) })

const B = '12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const C = '12D3KooWCccccccccccccccccccccccccccccccccccccccccccc'
const R = '12D3KooWRrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr'

function snapshot(rx: number): MetricsSnapshot {
  return {
    self: { name: 'a', peerId: '12D3KooWAaaa', networkId: 'net1', policyVersion: 7 },
    peers: [
      {
        name: 'b',
        peerId: B,
        path: 'direct',
        why: null,
        rttMs: 12.5,
        online: true,
        rxBytes: rx,
        txBytes: 2000,
        rxPackets: 10,
        txPackets: 20,
        drops: 1,
      },
      {
        name: 'c',
        peerId: C,
        path: 'relay',
        why: 'symmetric-nat',
        rttMs: null,
        online: false,
        rxBytes: 0,
        txBytes: 0,
        rxPackets: 0,
        txPackets: 0,
        drops: 0,
      },
    ],
    drops: { ACL: 3, NO_ROUTE: 0, NOT_MEMBER_STREAM: 2 },
    punch: { dials: 4, viaListener: 1, refusedNotMember: 0 },
    relay: {
      serving: false,
      relays: [{ name: 'r', peerId: R, reserved: true, rttMs: 30 }],
      members: [{ name: 'b', peerId: B, bytes: 5000, throttled: 3, quotaCuts: 1, quotaRefused: 2 }],
    },
  }
}

async function scrape(port: number, path = '/metrics', method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method })
  return { status: res.status, headers: res.headers, body: await res.text() }
}

/** The value of one series, e.g. `meshlan_peer_rx_bytes_total{peer="b",peer_id="…"}`. */
function value(body: string, series: string): number | null {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `))
  return line == null ? null : Number(line.slice(series.length + 1))
}

describe('metrics endpoint', () => {
  let current: MetricsSnapshot | null = snapshot(1234)
  const server = new MetricsServer({ source: () => current, log })
  let port = 0

  before(async () => {
    await server.apply({ listen: '127.0.0.1:0', expose: false }, null)
    port = server.address?.port ?? 0
    assert.ok(port > 0, 'listening')
  })
  after(() => server.stop())

  it('serves the node view as Prometheus metrics', async () => {
    const r = await scrape(port)
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const b = r.body
    const pb = `peer="b",peer_id="${B}"`
    assert.equal(value(b, `meshlan_peer_rx_bytes_total{${pb}}`), 1234)
    assert.equal(value(b, `meshlan_peer_tx_bytes_total{${pb}}`), 2000)
    assert.equal(value(b, `meshlan_peer_rx_packets_total{${pb}}`), 10)
    assert.equal(value(b, `meshlan_peer_tx_packets_total{${pb}}`), 20)
    assert.equal(value(b, `meshlan_peer_drops_total{${pb}}`), 1)
    assert.equal(value(b, `meshlan_peer_rtt_seconds{${pb}}`), 0.0125)
    assert.equal(value(b, `meshlan_peer_online{${pb}}`), 1)
    assert.equal(value(b, `meshlan_peer_path{${pb},path="direct",why=""}`), 1)
    assert.equal(value(b, `meshlan_peer_path{peer="c",peer_id="${C}",path="relay",why="symmetric-nat"}`), 1)
    assert.equal(value(b, `meshlan_peer_rtt_seconds{peer="c",peer_id="${C}"}`), null, 'no RTT, no series')
    assert.equal(value(b, 'meshlan_peers{path="direct"}'), 1)
    assert.equal(value(b, 'meshlan_peers{path="relay"}'), 1)
    assert.equal(value(b, 'meshlan_peers{path="none"}'), 0)
    assert.equal(value(b, 'meshlan_policy_version'), 7)
    assert.equal(value(b, 'meshlan_node_up'), 1)
    assert.equal(value(b, 'meshlan_node_info{name="a",peer_id="12D3KooWAaaa",network_id="net1"}'), 1)
    assert.equal(value(b, 'meshlan_drops_total{reason="ACL"}'), 3)
    assert.equal(value(b, 'meshlan_drops_total{reason="NOT_MEMBER_STREAM"}'), 2)
    assert.equal(value(b, 'meshlan_holepunch_events_total{event="dials"}'), 4)
    assert.equal(value(b, 'meshlan_holepunch_events_total{event="via_listener"}'), 1)
    assert.equal(value(b, 'meshlan_holepunch_events_total{event="refused_not_member"}'), 0)
    assert.equal(value(b, 'meshlan_relay_serving'), 0)
    assert.equal(value(b, 'meshlan_relay_reservations'), 1)
    assert.equal(value(b, `meshlan_relay_reserved{relay="r",relay_id="${R}"}`), 1)
    assert.equal(value(b, `meshlan_relay_rtt_seconds{relay="r",relay_id="${R}"}`), 0.03)
    const pc = `peer="b",peer_id="${B}"`
    assert.equal(value(b, `meshlan_relay_member_bytes_total{${pc}}`), 5000)
    assert.equal(value(b, `meshlan_relay_member_throttled_total{${pc}}`), 3)
    assert.equal(value(b, `meshlan_relay_member_quota_total{${pc},event="cut"}`), 1)
    assert.equal(value(b, `meshlan_relay_member_quota_total{${pc},event="refused"}`), 2)
    assert.match(b, /# TYPE meshlan_peer_rx_bytes_total counter/)
    assert.match(b, /# TYPE meshlan_peer_rtt_seconds gauge/)
    // prom-client's default metrics: memory and event-loop lag
    assert.ok((value(b, 'process_resident_memory_bytes') ?? 0) > 1e6, 'process memory')
    assert.ok(value(b, 'nodejs_eventloop_lag_seconds') != null, 'event-loop lag')
    assert.ok(value(b, 'nodejs_heap_size_used_bytes') != null, 'heap')
  })

  it('follows the view between scrapes: values move, a peer that left disappears', async () => {
    const s = snapshot(5000)
    s.peers = s.peers.slice(0, 1)
    current = s
    const b = (await scrape(port)).body
    assert.equal(value(b, `meshlan_peer_rx_bytes_total{peer="b",peer_id="${B}"}`), 5000)
    assert.doesNotMatch(b, new RegExp(`peer_id="${C}"`))
    assert.equal(value(b, 'meshlan_peers{path="relay"}'), 0)
    current = null // the daemon runs no node (no network yet)
    const n = (await scrape(port)).body
    assert.equal(value(n, 'meshlan_node_up'), 0)
    assert.doesNotMatch(n, /meshlan_peer_rx_bytes_total\{/)
    assert.ok(value(n, 'process_resident_memory_bytes') != null)
    current = snapshot(1234)
  })

  it('serves every metric the Grafana dashboard queries (packaging/grafana)', async () => {
    const body = (await scrape(port)).body
    const dash = readFileSync(
      new URL('../../../packaging/grafana/meshlan-dashboard.json', import.meta.url),
      'utf8',
    )
    const exprs = (
      JSON.parse(dash) as { panels: Array<{ targets: Array<{ expr: string }> }> }
    ).panels.flatMap((p) => p.targets.map((t) => t.expr))
    const names = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\b(?:meshlan|process|nodejs)_\w+/g)].map((m) => m[0])),
    )
    assert.ok(names.size >= 15, [...names].join(' '))
    for (const n of names) assert.match(body, new RegExp(`^# TYPE ${n} `, 'm'), `${n} is served`)
  })

  it('answers 404 on any other path and 405 to other methods; HEAD has no body', async () => {
    for (const p of ['/', '/metrics/', '/metricsx', '/debug'])
      assert.equal((await scrape(port, p)).status, 404, p)
    assert.equal((await scrape(port, '/metrics?x=1')).status, 200)
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await scrape(port, '/metrics', m)
      assert.equal(r.status, 405, m)
      assert.equal(r.headers.get('allow'), 'GET, HEAD')
    }
    const h = await scrape(port, '/metrics', 'HEAD')
    assert.equal(h.status, 200)
    assert.equal(h.body, '')
    assert.ok(Number(h.headers.get('content-length')) > 1000)
  })

  it('apply() is idempotent, rebinds on a change, closes the listener on stop', async () => {
    const own = new MetricsServer({ source: () => current, log })
    await own.apply({ listen: '127.0.0.1:0', expose: false }, null)
    const p1 = own.address?.port ?? 0
    await own.apply({ listen: '127.0.0.1:0', expose: false }, '10.99.0.1')
    assert.equal(own.address?.port, p1, 'same setting: same listener')
    await own.apply({ listen: '[::1]:0', expose: false }, null)
    assert.equal(own.address?.host, '::1')
    assert.equal(await refused(p1), true, 'the old listener is closed')
    const p2 = own.address?.port ?? 0
    assert.equal((await fetch(`http://[::1]:${p2}/metrics`)).status, 200)
    await own.apply({ listen: null, expose: false }, null)
    assert.equal(own.address as unknown, null, 'off')
    assert.equal(await refused(p2, '::1'), true)
    await own.apply({ listen: '127.0.0.1:0', expose: false }, null)
    const p3 = own.address?.port ?? 0
    await own.stop()
    assert.equal(own.address, null)
    assert.equal(await refused(p3), true, 'stop closes the listener')
  })

  it('a busy port is logged, not thrown', async () => {
    const other = new MetricsServer({ source: () => current, log })
    lines.length = 0
    await other.apply({ listen: `127.0.0.1:${port}`, expose: false }, null)
    assert.equal(other.address, null)
    assert.ok(
      lines.some((l) => l.includes('cannot listen') && l.includes('EADDRINUSE')),
      lines.join('\n'),
    )
    await other.stop()
  })

  it('a refused address is logged and served nowhere; overlay binds once the address is known', async () => {
    const other = new MetricsServer({ source: () => current, log })
    lines.length = 0
    await other.apply({ listen: '192.0.2.1:9464', expose: false }, '10.99.0.1')
    assert.equal(other.address as unknown, null)
    assert.ok(lines.some((l) => l.includes('neither loopback nor') && l.includes('expose = true')))
    await other.apply({ listen: 'overlay:0', expose: false }, null)
    assert.equal(other.address as unknown, null, 'waits for the overlay address')
    await other.apply({ listen: 'overlay:0', expose: false }, '127.0.0.1') // stands in for the overlay IP
    assert.equal(other.address?.host, '127.0.0.1')
    await other.stop()
  })
})

describe('metrics listen addresses', () => {
  const bind = (text: string, expose: boolean, overlay: string | null) => {
    const l = parseMetricsListen(text)
    assert.ok(typeof l !== 'string', `${text}: ${l}`)
    return metricsBind(l, expose, overlay)
  }

  it('parses HOST:PORT', () => {
    assert.deepEqual(parseMetricsListen('localhost:9464'), {
      host: '127.0.0.1',
      port: 9464,
      kind: 'loopback',
    })
    assert.deepEqual(parseMetricsListen('[::1]:9464'), { host: '::1', port: 9464, kind: 'loopback' })
    assert.deepEqual(parseMetricsListen('0.0.0.0:1'), { host: '0.0.0.0', port: 1, kind: 'wildcard' })
    assert.deepEqual(parseMetricsListen('overlay:9464'), { host: 'overlay', port: 9464, kind: 'overlay' })
    for (const bad of ['9464', 'example.org:9464', '::1:9464', '127.0.0.1:', '127.0.0.1:70000', '[x]:1'])
      assert.equal(typeof parseMetricsListen(bad), 'string', bad)
  })

  it('loopback and the overlay address are allowed; anything else needs expose', () => {
    assert.deepEqual(bind('127.0.0.1:9464', false, null), { host: '127.0.0.1', port: 9464 })
    assert.deepEqual(bind('10.99.0.5:9464', false, '10.99.0.5'), { host: '10.99.0.5', port: 9464 })
    assert.equal(bind('10.99.0.5:9464', false, null), null, 'not yet known: wait')
    assert.ok('refused' in (bind('192.168.1.2:9464', false, '10.99.0.5') ?? {}))
    assert.ok('refused' in (bind('0.0.0.0:9464', false, '10.99.0.5') ?? {}))
    assert.deepEqual(bind('192.168.1.2:9464', true, null), { host: '192.168.1.2', port: 9464 })
    assert.deepEqual(bind('0.0.0.0:9464', true, null), { host: '0.0.0.0', port: 9464 })
    assert.deepEqual(bind('overlay:9464', true, '10.99.0.5'), { host: '10.99.0.5', port: 9464 })
  })
})

describe('daemon wiring: [metrics] starts with the daemon, follows reload, stops with it', () => {
  let root: string
  let dir: string
  let daemon: Daemon
  const base = 'listen = ["/ip4/127.0.0.1/tcp/0"]\nlog_level = "error"\n[tun]\nenabled = false\n'

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-metrics-'))
    dir = join(root, 'owner')
    await mkdir(dir, { recursive: true })
    const c = new Controller({ state: new StateDir(dir), hostRoutes: async () => [] })
    await c.init({ name: 'owner' })
    await c.networkCreate({ name: 'lab' })
  })
  after(async () => {
    await daemon?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('serves the running node, moves on reload, closes on stop', async () => {
    const p1 = await freePort()
    const p2 = await freePort()
    await writeFile(join(dir, 'config.toml'), `${base}[metrics]\nlisten = "127.0.0.1:${p1}"\n`)
    daemon = createDaemon({ stateDir: dir }, { log })
    await daemon.start()
    const b = (await scrape(p1)).body
    const st = daemon.node?.status()
    assert.equal(value(b, 'meshlan_node_up'), 1)
    assert.equal(value(b, 'meshlan_policy_version'), st?.self.network.policyVersion)
    assert.equal(
      value(
        b,
        `meshlan_node_info{name="${st?.self.name}",peer_id="${st?.self.peerId}",network_id="${st?.self.network.id}"}`,
      ),
      1,
    )
    await writeFile(join(dir, 'config.toml'), `${base}[metrics]\nlisten = "127.0.0.1:${p2}"\n`)
    const ch = await daemon.reload()
    assert.deepEqual(ch, { live: ['metrics.listen'], restart: [] })
    assert.equal(await refused(p1), true, 'the old port is closed')
    assert.equal((await scrape(p2)).status, 200)
    await daemon.stop()
    assert.equal(await refused(p2), true, 'stop closes the listener')
  })
})

/** True when nothing listens on the port. */
function refused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port })
    s.once('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(true))
  })
}

async function freePort(): Promise<number> {
  const s = new MetricsServer({ source: () => null, log })
  await s.apply({ listen: '127.0.0.1:0', expose: false }, null)
  const port = s.address?.port ?? 0
  await s.stop()
  return port
}
