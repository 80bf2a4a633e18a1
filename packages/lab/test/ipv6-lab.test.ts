/**
 * The lab's IPv6: segments with a prefix, routed end to end (no NAT), and home routers whose
 * stateful IPv6 firewall lets replies in and drops or rejects the rest — what the IPv6 underlay's
 * lab test (e2e nat-ipv6) relies on, checked on its own.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, createLab, formatLab, type Host, type Lab, type LabProcess } from '../src/index.ts'
import { leftovers } from './helpers.ts'

const can = canRunLabs()
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`
const PREFIX = 'ml6l'

/** A TCP server on [::]:port in `host` answering each connection with the peer's address. */
async function who6(host: Host, port: number): Promise<LabProcess> {
  const script = `require('node:net').createServer((s) => s.end(s.remoteAddress + '\\n'))
    .listen({ port: ${port}, host: '::', ipv6Only: true }, () => console.log('listening ${port}'))`
  const p = host.spawn(process.execPath, ['-e', script])
  await p.waitForOutput(`listening ${port}`)
  return p
}

/** Connects from `host` to [ip]:port within 2 s: what the server said, or the error code. */
async function connect6(host: Host, ip: string, port: number): Promise<string> {
  const js = `const s=require('net').connect(${port},'${ip}');s.setTimeout(2000);let d='';s.on('data',(x)=>d+=x);s.on('end',()=>{console.log('seen '+d.trim());process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(1)});s.on('timeout',()=>{console.log('timeout');process.exit(2)})`
  return (await host.exec(process.execPath, ['-e', js], { timeoutMs: 10_000 })).stdout.trim()
}

describe('lab IPv6: routed prefixes behind stateful home firewalls', () => {
  let lab: Lab
  before(async () => {
    if (skip) return
    lab = await createLab({ prefix: PREFIX })
    await lab.addSegment('pub', { cidr: '198.18.90.0/24', cidr6: '2001:2:0:90::/64' })
    await lab.addSegment('lan1', { cidr: '192.168.91.0/24', cidr6: '2001:2:0:91::/64' })
    await lab.addSegment('lan2', { cidr: '192.168.92.0/24', cidr6: '2001:2:0:92::/64' })
    await lab.addNatRouter('r1', { wan: 'pub', lan: 'lan1', filter: 'drop' })
    await lab.addNatRouter('r2', { wan: 'pub', lan: 'lan2', filter: 'reject' })
    await lab.addHost('pub', { segment: 'pub' })
    await lab.addHost('a', { segment: 'lan1' })
    await lab.addHost('b', { segment: 'lan2' })
    await lab.routeIpv6()
  })
  after(async () => {
    await lab?.teardown()
    if (!skip) assert.deepEqual(leftovers(PREFIX), { namespaces: [], rootLinks: [], etc: [] })
  })

  it('addresses carry the IPv4 host number; outbound works and is not NATed', { skip }, async () => {
    const [pub, a, b] = ['pub', 'a', 'b'].map((n) => lab.host(n))
    assert.equal(pub.address6('pub'), '2001:2:0:90::a')
    assert.equal(a.address6('lan1'), '2001:2:0:91::a')
    assert.match(formatLab(lab.describe()), /2001:2:0:91::a/)
    await who6(pub, 9000)
    // the server sees a's own address: routed, no NAT (IPv4 from a would arrive as r1's WAN)
    assert.equal(await connect6(a, pub.address6('pub'), 9000), `seen ${a.address6('lan1')}`)
    assert.equal(await connect6(b, pub.address6('pub'), 9000), `seen ${b.address6('lan2')}`)
    assert.ok(await a.ping(pub.address6('pub')), 'ICMPv6 echo out and its reply back in')
  })

  it('unsolicited inbound: dropped by r1, refused with a RST by r2', { skip }, async () => {
    const [pub, a, b] = ['pub', 'a', 'b'].map((n) => lab.host(n))
    await who6(a, 9001)
    await who6(b, 9001)
    assert.equal(await connect6(pub, a.address6('lan1'), 9001), 'timeout', 'r1 drops')
    assert.equal(await connect6(pub, b.address6('lan2'), 9001), 'ECONNREFUSED', 'r2 resets')
    // home to home: a's own firewall lets the SYN out, b's refuses it
    assert.equal(await connect6(a, b.address6('lan2'), 9001), 'ECONNREFUSED')
    assert.match(await lab.router('r2').rules6(), /--ctstate RELATED,ESTABLISHED -j ACCEPT/)
  })
})
