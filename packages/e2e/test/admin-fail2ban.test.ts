/**
 * fail2ban against the admin API, for real, in the lab (issue 11): one host runs the daemon with
 * the admin API on its LAN address ([admin] public = true) and a fail2ban-server of its own in the
 * same namespace (config, socket, pid file and database under a temp dir; the shipped filter;
 * a jail reading the daemon's daemon.log; the iptables-multiport action on that namespace's
 * firewall). An attacker host hammers POST /api/login with wrong passwords: the daemon locks it out
 * (429) and fail2ban bans it, after which its next TCP connection fails; another host still logs in.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { canRunLabs, waitFor } from '@meshlan/lab'
import { createMeshLab, type MeshHost, type MeshLab, REPO_ROOT } from '../src/index.ts'

const can = canRunLabs()
const haveF2b = spawnSync('fail2ban-server', ['-V']).status === 0
const skip = !can.ok
  ? `needs a lab: ${can.reason}`
  : haveF2b
    ? false
    : 'fail2ban is missing: apt-get install fail2ban (scripts/lib/toolchain.sh installs it)'
if (!can.ok && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${can.reason}`)
}

const PORT = 7947
const PASSWORD = 'correct horse battery staple'

/** POST JSON from inside a host's namespace: the status, or `error:CODE` when the connection failed. */
async function post(n: MeshHost, url: string, body: unknown): Promise<string> {
  const script =
    'fetch(process.argv[1], {method: "POST", headers: {"Content-Type": "application/json"}, body: process.argv[2], signal: AbortSignal.timeout(5000)})' +
    '.then((r) => process.stdout.write(String(r.status)), (e) => process.stdout.write("error:" + (e.cause?.code ?? e.name)))'
  const r = await n.host.exec(process.execPath, ['-e', script, url, JSON.stringify(body)], {
    timeoutMs: 15_000,
  })
  return r.stdout.trim()
}

describe('fail2ban bans an address hammering the admin API (lab)', { skip }, () => {
  let ml: MeshLab
  let f2b: string
  let server: MeshHost
  let url: string
  const client = (args: string[]) =>
    server.exec('fail2ban-client', ['-c', join(f2b, 'conf'), '-s', join(f2b, 'fail2ban.sock'), ...args])

  before(async () => {
    ml = await createMeshLab({
      prefix: 'mlfb',
      hosts: ['server', 'attacker', 'other'],
      cidr: '198.18.44.0/24',
    })
    server = ml.node('server')
    const ip = server.host.address()
    url = `http://${ip}:${PORT}`
    await server.cli(['init', '--name', 'server'])
    server.config(`[tun]\nenabled = false\n[admin]\nlisten = ["${ip}:${PORT}"]\npublic = true\n`)
    await server.cli(['up'])

    // fail2ban's own tree: Debian's action.d/filter.d, no default jails, our filter and jail
    f2b = mkdtempSync(join(tmpdir(), 'meshlan-f2b-'))
    const conf = join(f2b, 'conf')
    cpSync('/etc/fail2ban', conf, { recursive: true })
    rmSync(join(conf, 'jail.d'), { recursive: true, force: true })
    cpSync(join(REPO_ROOT, 'packaging/fail2ban/filter.d/meshlan.conf'), join(conf, 'filter.d/meshlan.conf'))
    writeFileSync(
      join(conf, 'fail2ban.local'),
      `[Definition]\nloglevel = INFO\nlogtarget = ${f2b}/fail2ban.log\nsocket = ${f2b}/fail2ban.sock\n` +
        `pidfile = ${f2b}/fail2ban.pid\ndbfile = ${f2b}/fail2ban.sqlite3\n`,
    )
    writeFileSync(
      join(conf, 'jail.local'),
      '[meshlan]\nenabled = true\nfilter = meshlan\nbackend = polling\n' +
        `logpath = ${join(server.state, 'daemon.log')}\nport = ${PORT}\nprotocol = tcp\n` +
        'maxretry = 5\nfindtime = 600\nbantime = 600\nignoreip =\n' +
        `action = iptables-multiport[name=meshlan, port="${PORT}", protocol=tcp]\n`,
    )
    server.host.spawn('fail2ban-server', [
      '-f',
      '-x',
      '-c',
      conf,
      '-s',
      join(f2b, 'fail2ban.sock'),
      '-p',
      join(f2b, 'fail2ban.pid'),
    ])
    await waitFor(async () => (await client(['status', 'meshlan'])).code === 0, {
      timeoutMs: 20_000,
      intervalMs: 300,
      what: 'fail2ban-server answers',
    })

    const token = (await server.cli(['admin', 'bootstrap'])).trim()
    assert.equal(
      await post(ml.node('other'), `${url}/api/bootstrap`, { token, username: 'alice', password: PASSWORD }),
      '201',
    )
  })
  after(async () => {
    if (ml == null) return
    await client(['stop']).catch(() => {})
    await ml
      .node('server')
      .run(['down'])
      .catch(() => {})
    await ml.teardown()
    if (f2b != null) rmSync(f2b, { recursive: true, force: true })
  })

  it('the attacker is locked out by the daemon, then banned by fail2ban; the other host logs in', async () => {
    const attacker = ml.node('attacker')
    const bad = { username: 'alice', password: 'wrong password' }
    for (let i = 0; i < 5; i++) assert.equal(await post(attacker, `${url}/api/login`, bad), '401')
    const aip = attacker.host.address()
    await waitFor(async () => (await client(['status', 'meshlan'])).stdout.includes(aip), {
      timeoutMs: 30_000,
      intervalMs: 500,
      what: `fail2ban bans ${aip}`,
    })
    // fail2ban lists the ban before its action has run iptables: wait for the rule itself
    const banRule = new RegExp(`${aip.replace(/\./g, '\\.')}.*REJECT`)
    await waitFor(async () => banRule.test((await server.exec('iptables', ['-S'])).stdout), {
      timeoutMs: 10_000,
      intervalMs: 200,
      what: `the iptables rule banning ${aip}`,
    })
    const next = await post(attacker, `${url}/api/login`, { username: 'alice', password: PASSWORD })
    assert.match(next, /^error:/, `a banned address cannot connect (got ${next})`)
    assert.equal(
      await post(ml.node('other'), `${url}/api/login`, { username: 'alice', password: PASSWORD }),
      '200',
    )
    const log = readFileSync(join(f2b, 'fail2ban.log'), 'utf8')
    assert.match(log, new RegExp(`\\[meshlan\\] Ban ${aip.replace(/\./g, '\\.')}`), log)
  })
})
