/**
 * MagicDNS end to end: three daemons, real dig/getent/ping inside the namespaces, resolv.conf
 * integration with a stand-in upstream DNS server in the lab, and a byte-for-byte restore.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { canRunLabs, type LabProcess, waitFor } from '@meshlan/lab'
import { createMeshLab, formMesh, ipOf, type MeshLab } from '../src/index.ts'

const can = canRunLabs()
// Skipped per test, so the summary counts them. Where labs must run (MESHLAN_REQUIRE_LABS=1:
// scripts/test.sh as root, and CI) a lab that cannot run is a failure, not a quiet skip.
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}
const skip = can.ok ? false : `needs root: ${can.reason}`
const FIXTURE = fileURLToPath(new URL('./fixtures/upstream-dns.ts', import.meta.url))

describe('MagicDNS: name.mesh for every node', () => {
  let ml: MeshLab
  let upstream: LabProcess
  let resolvBefore: Buffer
  let aIp: string
  let bIp: string
  const resolvPath = () => join('/etc/netns', ml.node('a').host.namespace, 'resolv.conf')

  before(async () => {
    if (skip) return
    ml = await createMeshLab({
      prefix: 'mldns',
      build: async (lab) => {
        await lab.addSegment('lan', { cidr: '198.18.30.0/24' })
        const up = await lab.addHost('upstream', { segment: 'lan' })
        upstream = up.spawn(process.execPath, [FIXTURE, up.address('lan')])
        await upstream.waitForOutput('listening', 10_000)
        const hosts = []
        for (const n of ['a', 'b', 'c']) hosts.push(await lab.addHost(n, { segment: 'lan' }))
        // the host's own resolver: the lab's upstream, with a search line and options kept as-is
        hosts[0].setResolvConf(
          `# lab resolver\nsearch lab.test\nnameserver ${up.address('lan')}\noptions edns0\n`,
        )
        return hosts
      },
    })
    resolvBefore = readFileSync(resolvPath())
    await formMesh(ml, {
      owner: 'a',
      network: 'home',
      keys: { home: null },
      members: { b: 'home', c: 'home' },
      config: { a: '[dns]\nhost_integration = "resolvconf"\n' },
    })
    aIp = await ipOf(ml.node('a'))
    bIp = await ipOf(ml.node('b'))
    await waitFor(
      async () => (await ml.node('a').json<{ listen: string[] }>(['dns', 'status'])).listen.length > 0,
      {
        timeoutMs: 10_000,
        what: 'the resolver on a',
      },
    )
  })

  after(async () => {
    upstream?.kill('SIGKILL')
    await ml?.teardown()
  })

  const dig = async (...args: string[]) =>
    (await ml.node('a').exec('dig', ['+time=2', '+tries=1', ...args])).stdout

  it('answers A, PTR and NXDOMAIN from the gossiped records', { skip }, async () => {
    assert.equal((await dig(`@${aIp}`, 'b.mesh', '+short')).trim(), bIp)
    assert.equal((await dig(`@${aIp}`, 'b.home.mesh', '+short')).trim(), bIp)
    assert.equal((await dig(`@${aIp}`, 'mesh', '+short')).trim(), aIp, 'bare mesh is this node')
    assert.equal((await dig(`@${aIp}`, '-x', bIp, '+short')).trim(), 'b.mesh.')
    const nx = await dig(`@${aIp}`, 'nosuch.mesh')
    assert.match(nx, /status: NXDOMAIN/)
    const ttl = await dig(`@${aIp}`, 'c.mesh', '+noall', '+answer')
    assert.match(ttl, /\s60\s+IN\s+A\s/)
  })

  it('resolv.conf integration: getent and ping by name; other names through the upstream', {
    skip,
  }, async () => {
    const managed = readFileSync(resolvPath(), 'utf8')
    assert.match(managed, new RegExp(`nameserver ${aIp.replace(/\./g, '\\.')}`))
    const g = await ml.node('a').exec('getent', ['hosts', 'b.mesh'])
    assert.equal(g.code, 0, g.stderr)
    assert.match(g.stdout, new RegExp(`^${bIp.replace(/\./g, '\\.')}\\s`))
    const p = await ml.node('a').exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', 'b.mesh'])
    assert.equal(p.code, 0, p.stdout + p.stderr)
    const up = await ml.node('a').exec('getent', ['hosts', 'www.example.test'])
    assert.equal(up.code, 0, `forwarded upstream: ${up.stderr}`)
    assert.match(up.stdout, /^198\.18\.99\.99\s/)
  })

  it('malformed queries get an error, never a crash', { skip }, async () => {
    const junk = await ml
      .node('a')
      .exec('bash', [
        '-c',
        `for i in $(seq 200); do head -c $((RANDOM % 300)) /dev/urandom > /dev/udp/${aIp}/53; done; echo sent`,
      ])
    assert.match(junk.stdout, /sent/)
    assert.equal((await dig(`@${aIp}`, 'b.mesh', '+short')).trim(), bIp, 'still answering')
  })

  it('`meshlan down` restores resolv.conf byte for byte', { skip }, async () => {
    await ml.node('a').cli(['down'])
    assert.deepEqual(readFileSync(resolvPath()), resolvBefore)
  })
})
