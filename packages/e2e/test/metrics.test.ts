/**
 * The Prometheus endpoint end to end (issue 13), in the lab: two nodes, iperf3 from the member to
 * the owner through the tunnel. The member serves /metrics on loopback, the owner on its overlay
 * address (`overlay:PORT`). While traffic flows, two scrapes bracket one `meshlan status --json`:
 * every byte and drop counter the status shows lies between the two scrapes' values, the bytes
 * rise, the policy version and the path label are the status's. The member reads the owner's
 * metrics across the tunnel.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, type LabProcess, startIperf3Server } from '@meshlan/lab'
import { createMeshLab, formMesh, ipOf, type MeshHost, type MeshLab } from '../src/index.ts'

const can = canRunLabs()
const skip = can.ok ? false : `needs a lab: ${can.reason}`
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}

const PORT = 9464

interface Series {
  name: string
  labels: Record<string, string>
  value: number
}

/** The Prometheus text format's samples (comments skipped). */
function parse(body: string): Series[] {
  const out: Series[] = []
  for (const line of body.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m == null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    out.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return out
}

function one(s: Series[], name: string, labels: Record<string, string> = {}): Series {
  const found = s.filter(
    (x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  )
  assert.equal(found.length, 1, `one ${name}${JSON.stringify(labels)}, found ${found.length}`)
  return found[0]
}

/** GET a URL from inside the node's namespace (node's fetch: curl is not in the toolchain). */
async function get(n: MeshHost, url: string): Promise<{ status: number; body: string }> {
  const script =
    'fetch(process.argv[1]).then(async (r) => process.stdout.write(r.status + "\\n" + (await r.text())))'
  const r = await n.host.exec(process.execPath, ['-e', script, url], { timeoutMs: 10_000 })
  assert.equal(r.code, 0, `fetch ${url} in ${n.name}: ${r.stderr}`)
  const nl = r.stdout.indexOf('\n')
  return { status: Number(r.stdout.slice(0, nl)), body: r.stdout.slice(nl + 1) }
}

async function scrape(n: MeshHost, url = `http://127.0.0.1:${PORT}/metrics`): Promise<Series[]> {
  const r = await get(n, url)
  assert.equal(r.status, 200, r.body)
  return parse(r.body)
}

describe('metrics: /metrics while traffic flows, against status --json', () => {
  let ml: MeshLab
  let server: LabProcess | null = null
  let client: LabProcess | null = null
  before(async () => {
    if (!can.ok) return
    ml = await createMeshLab({ prefix: 'mlmx', hosts: ['owner', 'b'], cidr: '198.18.36.0/24' })
    await formMesh(ml, {
      owner: 'owner',
      keys: { admin: null },
      members: { b: 'admin' },
      config: {
        owner: `[metrics]\nlisten = "overlay:${PORT}"\n`,
        b: `[metrics]\nlisten = "127.0.0.1:${PORT}"\n`,
      },
    })
  })
  after(async () => {
    client?.kill()
    server?.kill()
    await ml?.teardown()
  })

  it('two scrapes bracket status --json: bytes and drops, policy version, path', { skip }, async () => {
    const owner = ml.node('owner')
    const b = ml.node('b')
    const ownerIp = await ipOf(owner)
    server = await startIperf3Server(owner.host, 5201)
    client = b.host.spawn('iperf3', ['-c', ownerIp, '-p', '5201', '-t', '8', '-b', '50M'])
    await new Promise((r) => setTimeout(r, 1500))

    const m1 = await scrape(b)
    const st = await b.status()
    await new Promise((r) => setTimeout(r, 500))
    const m2 = await scrape(b)

    const peer = st.peers.find((p) => p.name === 'owner')
    assert.ok(peer != null, 'b sees the owner')
    const labels = { peer: 'owner', peer_id: peer.peerId }
    const bracket = (name: string, l: Record<string, string>, s: number) => {
      const v1 = one(m1, name, l).value
      const v2 = one(m2, name, l).value
      assert.ok(v1 <= s && s <= v2, `${name}${JSON.stringify(l)}: ${v1} <= status ${s} <= ${v2}`)
      return v2 - v1
    }
    const tx = bracket('meshlan_peer_tx_bytes_total', labels, peer.txBytes)
    const rx = bracket('meshlan_peer_rx_bytes_total', labels, peer.rxBytes)
    assert.ok(tx > 1_000_000, `tx bytes rise with iperf3 traffic (+${tx} in ~1.5 s)`)
    assert.ok(rx > 0, `rx bytes rise (acks: +${rx})`)
    const txp =
      one(m2, 'meshlan_peer_tx_packets_total', labels).value -
      one(m1, 'meshlan_peer_tx_packets_total', labels).value
    assert.ok(txp > 20, `tx packets rise (+${txp}; TSO super-packets of up to 64 KiB)`)
    for (const [reason, n] of Object.entries(st.drops)) bracket('meshlan_drops_total', { reason }, n)

    assert.equal(one(m2, 'meshlan_policy_version').value, st.self.network.policyVersion)
    assert.equal(one(m2, 'meshlan_node_up').value, 1)
    assert.equal(one(m2, 'meshlan_node_info').labels.peer_id, st.self.peerId)
    assert.equal(one(m2, 'meshlan_node_info').labels.name, st.self.name)
    assert.equal(one(m2, 'meshlan_peer_path', labels).labels.path, peer.path)
    assert.equal(peer.path, 'direct', 'one LAN: direct')
    assert.equal(one(m2, 'meshlan_peers', { path: 'direct' }).value, 1)
    assert.equal(one(m2, 'meshlan_peer_online', labels).value, peer.online ? 1 : 0)
    if (peer.rttMs != null) assert.ok(one(m2, 'meshlan_peer_rtt_seconds', labels).value > 0)
    // prom-client's process metrics
    assert.ok(one(m2, 'process_resident_memory_bytes').value > 10e6)
    one(m2, 'nodejs_eventloop_lag_seconds')
    console.log(
      `# metrics: b → owner +${tx} tx bytes, +${rx} rx bytes, +${txp} tx packets between scrapes; ` +
        `policy v${st.self.network.policyVersion}, path ${peer.path}, rtt ${peer.rttMs} ms; ` +
        `${m2.length} series, rss ${Math.round(one(m2, 'process_resident_memory_bytes').value / 1e6)} MB`,
    )
    const done = await client.exited
    assert.equal(done.code, 0, 'iperf3 finished')
  })

  it('the owner serves on its overlay address: the member scrapes it through the tunnel; 404 elsewhere', {
    skip,
  }, async () => {
    const owner = ml.node('owner')
    const ownerIp = await ipOf(owner)
    const m = await scrape(ml.node('b'), `http://${ownerIp}:${PORT}/metrics`)
    assert.equal(one(m, 'meshlan_node_info').labels.name, 'owner')
    assert.equal(one(m, 'meshlan_peers', { path: 'direct' }).value, 1)
    assert.equal((await get(ml.node('b'), `http://${ownerIp}:${PORT}/`)).status, 404)
    // bound to the overlay address only: not on the owner's loopback
    const lo = await owner.host.exec(process.execPath, ['-e', `fetch("http://127.0.0.1:${PORT}/metrics")`])
    assert.notEqual(lo.code, 0, 'nothing listens on the owner loopback')
  })
})
