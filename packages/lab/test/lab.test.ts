import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  canRunLabs,
  createLab,
  formatLab,
  type Host,
  type Lab,
  LabAddressError,
  LabClosedError,
  LabNameError,
  type NatRouter,
  waitFor,
} from '../src/index.ts'
import { leftovers, startTcpWho, startUdpWho, tcpConnect, udpMappings } from './helpers.ts'

const can = canRunLabs()
// Skipped per test, so the summary counts them. Where labs must run (MESHLAN_REQUIRE_LABS=1:
// scripts/test.sh as root, and CI) a lab that cannot run is a failure, not a quiet skip.
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`

function assertClean(prefix: string): void {
  assert.deepEqual(leftovers(prefix), { namespaces: [], rootLinks: [], etc: [] })
}

interface TwoNats {
  lab: Lab
  pub: Host
  a: Host
  b: Host
  r1: NatRouter
  r2: NatRouter
}

/** public 198.18.0.0/24 with host pub; lan1 198.18.1.0/24 (host a) behind r1; lan2 198.18.2.0/24 (host b) behind r2. */
async function twoNats(prefix: string, symmetric2: boolean, filter?: 'drop' | 'reject'): Promise<TwoNats> {
  const lab = await createLab({ prefix })
  try {
    await lab.addSegment('public', { cidr: '198.18.0.0/24' })
    await lab.addSegment('lan1', { cidr: '198.18.1.0/24' })
    await lab.addSegment('lan2', { cidr: '198.18.2.0/24' })
    const r1 = await lab.addNatRouter('r1', { wan: 'public', lan: 'lan1', filter })
    const r2 = await lab.addNatRouter('r2', { wan: 'public', lan: 'lan2', symmetric: symmetric2, filter })
    const pub = await lab.addHost('pub', { segment: 'public', address: '198.18.0.100' })
    const a = await lab.addHost('a', { segment: 'lan1' })
    const b = await lab.addHost('b', { segment: 'lan2' })
    return { lab, pub, a, b, r1, r2 }
  } catch (err) {
    await lab.teardown()
    throw err
  }
}

describe('lab (needs root)', { timeout: 60_000 }, () => {
  it('two LANs behind NAT routers on a public segment', { skip }, async () => {
    const prefix = 'lt1'
    const { lab, pub, a, b, r1, r2 } = await twoNats(prefix, false)
    try {
      const d = lab.describe()
      assert.equal(d.hosts.find((h) => h.name === 'a')?.gateway, '198.18.1.1')
      assert.equal(a.address(), '198.18.1.10')
      assert.equal(r1.wanAddress, '198.18.0.1')
      assert.equal(r2.wanAddress, '198.18.0.2')
      assert.match(formatLab(d), /router r1 netns lt1-r1 NAT lan1 -> public/)

      // Every interface name fits IFNAMSIZ and carries the prefix; resolv.conf is the lab's own.
      for (const h of lab.hosts)
        for (const i of h.interfaces) assert.ok(i.ifname.startsWith(prefix) && i.ifname.length <= 15)
      const resolv = await a.exec('cat', ['/etc/resolv.conf'])
      assert.equal(resolv.stdout, '# meshlan lab lt1-a\nnameserver 127.0.0.1\n')

      // Behind NAT -> public host: ping and TCP work, and the public host sees the router's WAN address.
      assert.equal(await a.ping(pub.address()), true)
      assert.equal(await b.ping(pub.address()), true)
      await startTcpWho(pub, 7001)
      const fromA = await tcpConnect(a, pub.address(), 7001)
      assert.ok(fromA.ok, fromA.error)
      assert.equal(fromA.seen.split(':')[0], r1.wanAddress)
      const fromB = await tcpConnect(b, pub.address(), 7001)
      assert.ok(fromB.ok, fromB.error)
      assert.equal(fromB.seen.split(':')[0], r2.wanAddress)

      // Across NATs nothing unsolicited gets through: not by LAN address, not by the other WAN address.
      await startTcpWho(b, 7002)
      assert.equal(await a.ping(b.address()), false)
      assert.equal((await tcpConnect(a, b.address(), 7002, 800)).ok, false)
      assert.equal(await a.ping(r2.wanAddress), false)
      assert.equal((await tcpConnect(a, r2.wanAddress, 7002, 800)).ok, false)
      assert.equal(await pub.ping(a.address()), false)
      assert.equal(await pub.ping(r1.wanAddress), false)

      // A static port mapping on r2 opens exactly that port.
      await r2.forwardPort('tcp', 8002, b.address(), 7002)
      const mapped = await tcpConnect(a, r2.wanAddress, 8002)
      assert.ok(mapped.ok, mapped.error)
      assert.equal(mapped.seen.split(':')[0], r1.wanAddress)

      // Fault injection: pull a's cable, then plug it back (default route restored).
      await a.linkDown()
      assert.equal(await a.ping(pub.address()), false)
      await a.linkUp()
      await waitFor(() => a.ping(pub.address()), { timeoutMs: 5000, what: 'a to reach pub after linkUp' })

      // kill(): a spawned process ends and is reported.
      const sleeper = a.spawn('sleep', ['60'])
      await waitFor(() => sleeper.pid !== undefined, { what: 'sleep to start' })
      assert.equal(a.kill(sleeper, 'SIGKILL'), true)
      assert.equal((await sleeper.exited).signal, 'SIGKILL')

      const logs = await lab.collectLogs()
      assert.ok(logs.some((l) => l.host === 'pub' && l.text.includes('listening 7001')))
    } finally {
      await lab.teardown()
    }
    assertClean(prefix)
    await lab.teardown() // idempotent
    await assert.rejects(lab.addHost('x'), LabClosedError)
  })

  it('symmetric router: MASQUERADE --random-fully, a new mapping per destination', { skip }, async () => {
    const prefix = 'lt2'
    const { lab, pub, a, b, r1, r2 } = await twoNats(prefix, true)
    try {
      assert.match(await r2.rules(), /-A POSTROUTING -o lt2e0 -j MASQUERADE --random-fully/)
      assert.doesNotMatch(await r1.rules(), /random-fully/)
      const ports = [9001, 9002, 9003]
      await startUdpWho(pub, ports)
      // Cone-ish router r1: one local socket keeps one port (preserved) towards every destination.
      const viaR1 = await udpMappings(a, pub.address(), ports, 40000)
      assert.deepEqual(
        viaR1,
        ports.map(() => `${r1.wanAddress}:40000`),
      )
      // Symmetric router r2: the mapping changes with the destination.
      const viaR2 = await udpMappings(b, pub.address(), ports, 40000)
      assert.ok(viaR2.every((m) => m.startsWith(`${r2.wanAddress}:`)))
      assert.ok(new Set(viaR2).size > 1, `expected different mappings, got ${viaR2.join(' ')}`)
    } finally {
      await lab.teardown()
    }
    assertClean(prefix)
  })

  it('rejecting router: unsolicited TCP gets a RST at once, the rest ICMP port unreachable', {
    skip,
  }, async () => {
    const prefix = 'lt7'
    const { lab, pub, a, b, r1, r2 } = await twoNats(prefix, false, 'reject')
    try {
      assert.equal(r2.filter, 'reject')
      assert.match(formatLab(lab.describe()), /router r2 netns lt7-r2 NAT lan2 -> public reject/)
      assert.equal(lab.describe().hosts.find((h) => h.name === 'r1')?.filter, 'reject')
      assert.match(await r2.rules(), /-A INPUT -i lt7e0 -p tcp -j REJECT --reject-with tcp-reset/)
      // outbound still works, and its replies come back
      assert.equal(await a.ping(pub.address()), true)
      await startTcpWho(pub, 7001)
      assert.ok((await tcpConnect(a, pub.address(), 7001)).ok)
      // unsolicited: to the router itself or through it, refused (not a timeout)
      await startTcpWho(b, 7002)
      const t0 = Date.now()
      const wan = await tcpConnect(a, r2.wanAddress, 7002, 3000)
      assert.equal(wan.error, 'ECONNREFUSED')
      assert.ok(Date.now() - t0 < 2500, 'refused at once, not after a timeout')
      assert.equal((await tcpConnect(pub, r1.wanAddress, 7002, 3000)).error, 'ECONNREFUSED')
      assert.equal(await pub.ping(r1.wanAddress), false)
      // a static port mapping still opens exactly that port (inserted before the REJECTs)
      await r2.forwardPort('tcp', 8002, b.address(), 7002)
      const mapped = await tcpConnect(a, r2.wanAddress, 8002)
      assert.ok(mapped.ok, mapped.error)
    } finally {
      await lab.teardown()
    }
    assertClean(prefix)
  })

  it('hosts on several segments, address allocation and input errors', { skip }, async () => {
    const prefix = 'lt3'
    const lab = await createLab({ prefix })
    try {
      await lab.addSegment('x', { cidr: '198.18.30.0/24' })
      await lab.addSegment('y', { cidr: '198.18.31.0/29' })
      const m = await lab.addHost('multi', { segment: 'x' })
      await m.attach('y')
      const n = await lab.addHost('n', { segment: 'y', address: '198.18.31.6' })
      assert.equal(m.address('y'), '198.18.31.2')
      assert.equal(await n.ping(m.address('y')), true)
      await assert.rejects(lab.addSegment('z', { cidr: '198.18.30.128/25' }), LabAddressError)
      await assert.rejects(lab.addHost('o', { segment: 'x', address: '198.18.30.10' }), LabAddressError)
      await assert.rejects(lab.addHost('multi'), LabNameError)
      await assert.rejects(createLab({ prefix: 'toolong7' }), LabNameError)
      const r = await m.exec('sh', ['-c', 'echo out; echo err >&2; exit 3'])
      assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n'])
      m.setResolvConf('nameserver 198.18.30.1')
      assert.equal((await m.exec('cat', ['/etc/resolv.conf'])).stdout, 'nameserver 198.18.30.1\n')
    } finally {
      await lab.teardown()
    }
    assertClean(prefix)
  })

  it('a crashed (SIGKILLed) run is cleaned by the next createLab with the same prefix', {
    skip,
  }, async () => {
    const prefix = 'lt4'
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'crash-child.ts'), prefix], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    const sleeperPid = await waitFor(() => Number(/ready (\d+)/.exec(out)?.[1]) || undefined, {
      timeoutMs: 15_000,
      what: 'crash child to build its lab',
    })
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    assert.deepEqual(leftovers(prefix).namespaces.sort(), ['lt4-a', 'lt4-b', 'lt4sw'])
    assert.ok(existsSync('/etc/netns/lt4-a'))
    assert.ok(isAlive(sleeperPid), 'the orphan is still running before cleanup')

    const lab = await createLab({ prefix })
    try {
      assert.deepEqual(leftovers(prefix), { namespaces: ['lt4sw'], rootLinks: [], etc: ['lt4sw'] })
      await waitFor(() => !isAlive(sleeperPid), { what: 'orphan to be killed' })
    } finally {
      await lab.teardown()
    }
    assertClean(prefix)
  })

  it('a process that exits or is SIGTERMed without teardown still cleans up', { skip }, async () => {
    for (const [prefix, mode] of [
      ['lt5', 'exit'],
      ['lt6', 'term'],
    ] as const) {
      const child = spawn(
        process.execPath,
        [join(import.meta.dirname, 'fixtures', 'crash-child.ts'), prefix, mode],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      let out = ''
      child.stdout.on('data', (d) => {
        out += d
      })
      const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })))
      await waitFor(() => out.includes('ready'), {
        timeoutMs: 15_000,
        what: `${prefix} child to build its lab`,
      })
      if (mode === 'term') child.kill('SIGTERM')
      const how = await Promise.race([
        exited,
        new Promise((r) => setTimeout(r, 10_000, 'still running').unref()),
      ])
      if (how === 'still running') child.kill('SIGKILL')
      assert.deepEqual(how, mode === 'term' ? { code: null, signal: 'SIGTERM' } : { code: 0, signal: null })
      assertClean(prefix)
    }
  })
})

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
