/**
 * Path changes stay invisible to flows (issue 10): one TCP connection inside the tunnel, a → b at
 * a fixed rate, while the path goes relay → direct (hole punch) → relay (the direct path blocked
 * at a's NAT router). The connection must survive with no reset and no error, its bytes must
 * arrive in every phase, and the receiver must get every byte the sender wrote, in order. First
 * the same lab measures relayed against direct throughput with iperf3.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, iperf3Received, type LabProcess, startIperf3Server, waitFor } from '@meshlan/lab'
import { ipOf, type MeshLab } from '../src/index.ts'
import { createNatLab } from '../src/nat-lab.ts'
import { type FlowProbe, startFlowProbe } from './flow-probe.ts'
import { msUntilDirect, peerPath, pingWithRelaysBlocked, reserved } from './nat-helpers.ts'

const can = canRunLabs()
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`

/** The probe's rate: 4 Mbit/s, enough to keep packets in flight at every switch. */
const PROBE_BYTES_PER_SEC = 500_000

describe('NAT lab: path changes under a live TCP connection', () => {
  let ml: MeshLab
  let probe: FlowProbe | null = null
  const procs: LabProcess[] = []
  const blocked = new Set<string>()
  /**
   * a's router drops everything from `host` to b's router: that host's direct path dies, the
   * relays (elsewhere on the public segment) still carry its tunnel.
   */
  const block = async (host: string, on: boolean) => {
    const natA = ml.lab.router('nata')
    const natBWan = ml.lab.router('natb').wanAddress
    const src = ml.node(host).host.address()
    const r = await natA.exec('iptables', [
      on ? '-I' : '-D',
      'FORWARD',
      '-s',
      src,
      '-d',
      natBWan,
      '-j',
      'DROP',
    ])
    assert.equal(r.code, 0, r.stderr)
    if (on) blocked.add(host)
    else blocked.delete(host)
  }
  before(async () => {
    if (skip) return
    // PREFIX: another name for the lab's namespaces when a lab of the default name may be running
    ml = await createNatLab({ prefix: process.env.PREFIX ?? 'mlrf', withA2: true, a2Port: 7947 })
  })
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const h of [...blocked]) await block(h, false).catch(() => {})
    await ml?.teardown()
  })

  it('relayed throughput against direct (iperf3 through the tunnel)', { skip }, async () => {
    const a = ml.node('a')
    const b = ml.node('b')
    await waitFor(() => reserved(b), { timeoutMs: 15_000, what: 'b to hold a relay reservation' })
    const bIp = await ipOf(b)
    const server = await startIperf3Server(b.host, 5302)
    procs.push(server)
    const iperf = async () =>
      iperf3Received(await a.exec('iperf3', ['-c', bIp, '-p', '5302', '-t', '5', '-J'], 30_000))
    // direct first (a fresh lab punches at the first traffic), then the relay with direct blocked
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 15_000,
      what: 'a → b',
    })
    await waitFor(async () => (await peerPath(a, 'b'))?.path === 'direct', {
      timeoutMs: 30_000,
      intervalMs: 200,
    })
    const direct = await iperf()
    assert.equal((await peerPath(a, 'b'))?.path, 'direct', 'the direct run stayed direct')
    await block('a', true)
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 15_000,
      what: 'a → b after the block',
    })
    await waitFor(async () => (await peerPath(a, 'b'))?.path === 'relay', { timeoutMs: 15_000 })
    const relayed = await iperf()
    assert.equal((await peerPath(a, 'b'))?.path, 'relay', 'the relayed run stayed relayed')
    server.kill()
    const r = relayed.bitsPerSecond / 1e6
    const d = direct.bitsPerSecond / 1e6
    console.log(
      `# iperf3 a → b: relayed ${r.toFixed(0)} Mbit/s, direct ${d.toFixed(0)} Mbit/s (${((100 * r) / d).toFixed(0)} %)`,
    )
    assert.ok(relayed.bytes > 0 && direct.bytes > 0)
  })

  it('relay → direct → relay: the TCP connection survives, no reset, every byte arrives in order', {
    skip,
  }, async () => {
    // a2 (its own port behind a's router): a pair whose punches the throughput test never touched
    const a = ml.node('a2')
    const b = ml.node('b')
    await waitFor(() => reserved(b), { timeoutMs: 15_000, what: 'b to hold a relay reservation' })
    const bIp = await ipOf(b)
    // start relayed: no direct path while the connection opens
    await block('a2', true)
    await waitFor(async () => (await a.exec('ping', ['-c', '1', '-W', '1', bIp])).code === 0, {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'a → b over the relay',
    })
    await waitFor(async () => (await peerPath(a, 'b'))?.path === 'relay', {
      timeoutMs: 10_000,
      what: 'a relayed path (the direct one is blocked)',
    })
    probe = await startFlowProbe(a, b, bIp, 5301, PROBE_BYTES_PER_SEC)
    const phase = async (what: string, ms: number) => {
      const before = probe?.received() ?? 0
      await new Promise((r) => setTimeout(r, ms))
      const got = (probe?.received() ?? 0) - before
      assert.equal(probe?.error(), null, `${what}: the flow broke`)
      // at least half the rate arrived over the phase
      assert.ok(got >= (PROBE_BYTES_PER_SEC * ms) / 2000, `${what}: only ${got} bytes in ${ms} ms`)
      return got
    }
    const relayed = await phase('relayed', 3000)

    // relay → direct: let the punch through (the retry after the failed one: within ~20 s)
    const tDirect = Date.now()
    await block('a2', false)
    const toDirect = await msUntilDirect(a, 'b', tDirect, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'a direct path after unblocking',
      peer: b,
    })
    // direct for real: the flow keeps arriving with every relay blocked
    const rxBefore = probe.received()
    const proof = await pingWithRelaysBlocked(ml, a, bIp, 3)
    const duringBlock = probe.received() - rxBefore
    assert.ok(proof.received >= proof.sent - 2, `only ${proof.received}/${proof.sent} replies: not direct`)
    assert.ok(duringBlock >= PROBE_BYTES_PER_SEC, `only ${duringBlock} bytes with every relay blocked`)
    const stallToDirect = probe.longestStall(tDirect, Date.now())

    // direct → relay: block the direct path again; the watchdog falls back to the relay
    const tRelay = Date.now()
    await block('a2', true)
    const toRelay = await waitFor(
      async () => ((await peerPath(a, 'b'))?.path === 'relay' ? Date.now() - tRelay : false),
      { timeoutMs: 15_000, intervalMs: 100, what: 'the fallback to the relay' },
    )
    const back = await phase('relayed again', 3000)
    const stallToRelay = probe.longestStall(tRelay, Date.now())

    const end = await probe.finish()
    probe = null
    console.log(
      `# flow a2 → b at ${(PROBE_BYTES_PER_SEC * 8) / 1e6} Mbit/s: relayed ${relayed} B/3 s; direct ${toDirect} ms after unblocking (longest stall ${stallToDirect} ms), ${duringBlock} B with every relay blocked; back on the relay ${toRelay} ms after blocking (longest stall ${stallToRelay} ms), ${back} B/3 s; sent ${end.sent}, received ${end.received}, bad ${end.bad}`,
    )
    assert.ok(end.sent > 0, `the sender did not end cleanly:\n${end.senderOut}`)
    assert.equal(end.received, end.sent, `receiver:\n${end.receiverOut}\nsender:\n${end.senderOut}`)
    assert.equal(end.bad, 0, 'bytes arrived out of order or corrupted')
    assert.equal((await peerPath(a, 'b'))?.path, 'relay', 'the path ends relayed (direct still blocked)')
  })
})
