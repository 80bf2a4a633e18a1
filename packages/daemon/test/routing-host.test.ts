/**
 * The host side of subnet routing against the real kernel, inside a network namespace this test
 * creates (nothing touches the machine's own namespace): forwarding, source NAT and the MSS clamp
 * appear as rules the kernel reports, accepted routes as kernel routes, and clear() — also from a
 * fresh instance after a "crash" — leaves nothing behind and restores ip_forward.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { EXIT_TABLE, MANGLE_CHAIN, NAT_CHAIN, RoutingHost, runCommand } from '../src/routing-host.ts'

const NS = `mlrh${process.pid}`
const root = process.getuid?.() === 0
let tools = false
try {
  execFileSync('iptables', ['--version'], { stdio: 'ignore' })
  execFileSync('ip', ['-V'], { stdio: 'ignore' })
  tools = true
} catch {}
const why = !root ? 'needs root (network namespaces)' : !tools ? 'needs ip and iptables' : null
if (why != null && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`routing host tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${why}`)
}

const inNs = (cmd: string, args: string[]) => runCommand('ip', ['netns', 'exec', NS, cmd, ...args])
const sh = async (cmd: string, args: string[]) => (await inNs(cmd, args)).stdout

describe('routing host (kernel, in a namespace)', () => {
  before(async () => {
    if (why != null) return
    execFileSync('ip', ['netns', 'add', NS])
    // a persistent TUN stands in for the daemon's (the dummy driver may not be loaded)
    for (const args of [
      ['tuntap', 'add', 'dev', 'meshlan0', 'mode', 'tun'],
      ['addr', 'add', '10.144.0.9/16', 'dev', 'meshlan0'],
      ['link', 'set', 'meshlan0', 'up'],
    ]) {
      const r = await inNs('ip', args)
      assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`)
    }
    await inNs('sysctl', ['-qw', 'net.ipv4.ip_forward=0'])
  })
  after(() => {
    if (why != null) return
    try {
      execFileSync('ip', ['netns', 'del', NS])
    } catch {}
  })

  it('serves advertised prefixes: forwarding, SNAT per prefix, MSS clamp both ways; clear undoes all', async (t) => {
    if (why != null) return t.skip(why)
    const host = new RoutingHost({ ifname: 'meshlan0', overlay: '10.144.0.0/16', run: inNs })
    await host.setRouter({ advertised: ['192.168.1.0/24', '192.168.2.0/24'], snat: true, exit: false })
    assert.equal((await sh('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '1')
    const nat = await sh('iptables', ['-t', 'nat', '-S', NAT_CHAIN])
    // by the mark of packets out of the tunnel, not by source (site-to-site sources are LANs)
    assert.match(nat, /-d 192\.168\.1\.0\/24 -m mark --mark 0x4d000000\/0xff000000 -j MASQUERADE/)
    assert.match(nat, /-d 192\.168\.2\.0\/24 -m mark --mark 0x4d000000\/0xff000000 -j MASQUERADE/)
    assert.match(await sh('iptables', ['-t', 'nat', '-S', 'POSTROUTING']), new RegExp(`-j ${NAT_CHAIN}`))
    const mangle = await sh('iptables', ['-t', 'mangle', '-S', MANGLE_CHAIN])
    assert.match(mangle, /-i meshlan0 -p tcp .*TCPMSS --clamp-mss-to-pmtu/)
    assert.match(mangle, /-o meshlan0 -p tcp .*TCPMSS --clamp-mss-to-pmtu/)
    assert.match(mangle, /-i meshlan0 -j MARK --set-xmark 0x4d000000\/0xff000000/)
    // the same settings again change nothing; without SNAT the MASQUERADE rules go
    await host.setRouter({ advertised: ['192.168.2.0/24', '192.168.1.0/24'], snat: true, exit: false })
    await host.setRouter({ advertised: ['192.168.1.0/24'], snat: false, exit: false })
    assert.doesNotMatch(await sh('iptables', ['-t', 'nat', '-S', NAT_CHAIN]), /MASQUERADE/)
    await host.clear()
    assert.equal((await sh('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '0', 'ip_forward restored')
    assert.doesNotMatch(await sh('iptables', ['-t', 'nat', '-S']), /MESHLAN/)
    assert.doesNotMatch(await sh('iptables', ['-t', 'mangle', '-S']), /MESHLAN/)
  })

  it('installs exactly the accepted routes through the TUN, and a fresh instance clears a crashed one', async (t) => {
    if (why != null) return t.skip(why)
    const host = new RoutingHost({ ifname: 'meshlan0', overlay: '10.144.0.0/16', run: inNs })
    await host.setRoutes(['192.168.7.0/24', '10.20.0.0/16'])
    let routes = await sh('ip', ['route', 'show', 'dev', 'meshlan0'])
    assert.match(routes, /192\.168\.7\.0\/24/)
    assert.match(routes, /10\.20\.0\.0\/16/)
    await host.setRoutes(['10.20.0.0/16'])
    routes = await sh('ip', ['route', 'show', 'dev', 'meshlan0'])
    assert.doesNotMatch(routes, /192\.168\.7\.0/)
    await host.setRouter({ advertised: ['192.168.9.0/24'], snat: true, exit: false })
    // "crash": host is abandoned; a new daemon's instance clears at start
    const fresh = new RoutingHost({ ifname: 'meshlan0', overlay: '10.144.0.0/16', run: inNs })
    await fresh.clear()
    assert.equal((await sh('ip', ['route', 'show', 'dev', 'meshlan0', 'proto', '90'])).trim(), '')
    assert.match(
      await sh('ip', ['route', 'show', 'dev', 'meshlan0']),
      /10\.144\.0\.0\/16 proto kernel/,
      'not ours: kept',
    )
    assert.doesNotMatch(await sh('iptables', ['-t', 'nat', '-S']), /MESHLAN/)
    assert.doesNotMatch(await sh('iptables', ['-t', 'mangle', '-S']), /MESHLAN/)
  })

  it('an exit node forwards and NATs everything from the overlay that is not for the overlay', async (t) => {
    if (why != null) return t.skip(why)
    await inNs('sysctl', ['-qw', 'net.ipv4.ip_forward=0'])
    const host = new RoutingHost({ ifname: 'meshlan0', overlay: '10.144.0.0/16', run: inNs })
    await host.setRouter({ advertised: [], snat: true, exit: true })
    assert.equal((await sh('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '1')
    assert.match(
      await sh('iptables', ['-t', 'nat', '-S', NAT_CHAIN]),
      /! -d 10\.144\.0\.0\/16 -m mark --mark 0x4d000000\/0xff000000 -j MASQUERADE/,
    )
    await host.clear()
    assert.equal((await sh('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '0')
    assert.doesNotMatch(await sh('iptables', ['-t', 'nat', '-S']), /MESHLAN/)
  })

  it('an exit client: default via the TUN in its own table, underlay bypassed, LAN kept on request; clear restores the tables exactly', async (t) => {
    if (why != null) return t.skip(why)
    // a LAN and a default route of the host's own, as on a real machine
    await inNs('ip', ['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0p'])
    await inNs('ip', ['addr', 'add', '192.168.50.7/24', 'dev', 'lan0'])
    await inNs('ip', ['link', 'set', 'lan0p', 'up'])
    await inNs('ip', ['link', 'set', 'lan0', 'up'])
    await inNs('ip', ['route', 'add', 'default', 'via', '192.168.50.1'])
    // IPv4 only: what the exit client touches (the veth's IPv6 link-local routes appear on their
    // own schedule, after duplicate address detection, and would make the comparison flaky)
    const mangle = async () =>
      (await sh('iptables-save', ['-t', 'mangle'])).replace(/^[#:].*$/gm, '').replace(/\n+/g, '\n')
    const snapshot = async () =>
      `${await sh('ip', ['-4', 'rule', 'show'])}\n${await sh('ip', ['-4', 'route', 'show', 'table', 'all'])}\n${await mangle()}`
    const before = await snapshot()
    const routeGet = async (ip: string) => sh('ip', ['route', 'get', ip])
    const host = new RoutingHost({ ifname: 'meshlan0', overlay: '10.144.0.0/16', run: inNs })

    await host.setExitClient({ allowLan: false, bypass: ['192.0.2.10', '198.51.100.7'] })
    assert.match(await routeGet('8.8.8.8'), /dev meshlan0/, 'internet goes to the exit node')
    assert.match(await routeGet('192.168.50.20'), /dev meshlan0/, 'without LAN access the LAN goes too')
    assert.match(await routeGet('192.0.2.10'), /via 192\.168\.50\.1 dev lan0/, 'a member underlay stays')
    assert.match(await sh('ip', ['route', 'show', 'table', EXIT_TABLE]), /throw 198\.51\.100\.7/)
    // replies to connections that came in from outside the tunnel carry the mark and leave by main
    assert.match(await sh('ip', ['route', 'get', '192.168.50.20', 'mark', '0x4e000000']), /dev lan0/)
    assert.match(await mangle(), /-A MESHLAN-EXIT-IN ! -i meshlan0 -m conntrack --ctstate NEW -j CONNMARK/)
    assert.match(await mangle(), /-A MESHLAN-EXIT-OUT -m connmark --mark 0x4e000000\/0xff000000 -j MARK/)
    // a dial to a new address: its throw route goes in at once
    await host.addBypass('203.0.113.5')
    assert.match(await routeGet('203.0.113.5'), /via 192\.168\.50\.1 dev lan0/, 'a dialled address stays')

    await host.setExitClient({ allowLan: true, bypass: ['192.0.2.10'] })
    assert.match(await routeGet('192.168.50.20'), /dev lan0/, 'LAN access: the LAN stays direct')
    assert.match(await routeGet('8.8.8.8'), /dev meshlan0/, 'the internet still goes to the exit node')
    assert.doesNotMatch(
      await sh('ip', ['route', 'show', 'table', EXIT_TABLE]),
      /198\.51\.100\.7/,
      'bypass follows',
    )
    assert.match(await routeGet('198.51.100.7'), /dev meshlan0/)

    await host.setExitClient(null)
    assert.equal(await snapshot(), before, 'clearing the exit node restores rules and routes exactly')
    await host.setExitClient({ allowLan: true, bypass: [] })
    // "crash": a fresh instance clears what the abandoned one left
    await new RoutingHost({ ifname: 'meshlan0', overlay: '10.144.0.0/16', run: inNs }).clear()
    assert.equal(await snapshot(), before, 'a fresh instance clears a crashed exit client')
  })

  it('says what failed and what to check when the kernel refuses', async () => {
    const failing = new RoutingHost({
      ifname: 'meshlan0',
      overlay: '10.144.0.0/16',
      run: async () => ({ code: 1, stdout: '', stderr: 'iptables: Permission denied' }),
    })
    await assert.rejects(
      failing.setRoutes(['192.168.1.0/24']),
      /ip route replace 192\.168\.1\.0\/24 failed: .*Permission denied/,
    )
  })
})
