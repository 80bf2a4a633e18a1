/**
 * `meshlan set` without a daemon (the CLI contract of issue 9): flags land in config.toml's
 * `[routes]`, boolean flags take `--flag`, `--flag=true` and `--flag=false`, `--exit-node ""`
 * clears, `--json` prints the settings in force; bad input says what is wrong and changes nothing.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { meshlan } from './fixtures/run-cli.ts'

describe('meshlan set (offline)', () => {
  let root: string
  let state: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-cli-set-'))
    state = join(root, 'n')
    await mkdir(state, { recursive: true, mode: 0o700 })
    await writeFile(join(state, 'config.toml'), 'listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n')
    for (const args of [
      ['init', '--name', 'router'],
      ['network', 'create', 'setlab', '--subnet', '10.77.0.0/16', '--force'],
    ]) {
      const r = await meshlan(state, args)
      assert.equal(r.code, 0, r.stderr)
    }
  })
  after(() => rm(root, { recursive: true, force: true }))

  it('saves the flags in [routes] and prints the settings in force', async () => {
    const r = await meshlan(state, [
      '--json',
      'set',
      '--advertise-routes',
      '192.168.1.0/24,192.168.2.0/24',
      '--advertise-exit-node',
      '--accept-routes=true',
      '--exit-node',
      'gw',
      '--exit-node-allow-lan-access',
      '--snat-subnet-routes=false',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), {
      advertiseRoutes: ['192.168.1.0/24', '192.168.2.0/24'],
      advertiseExitNode: true,
      acceptRoutes: true,
      exitNode: 'gw',
      exitNodeAllowLanAccess: true,
      snatSubnetRoutes: false,
      live: false,
    })
    assert.match(r.stderr, /not running: saved in config\.toml, applied at `meshlan up`/)
    const toml = await readFile(join(state, 'config.toml'), 'utf8')
    assert.match(toml, /enabled = false/, 'other settings are kept')
    assert.match(toml, /exit_node = "gw"/)
    const off = await meshlan(state, ['--json', 'set', '--accept-routes=false', '--exit-node', ''])
    assert.equal(off.code, 0, off.stderr)
    const s = JSON.parse(off.stdout)
    assert.equal(s.acceptRoutes, false)
    assert.equal(s.exitNode, null)
    assert.deepEqual(s.advertiseRoutes, ['192.168.1.0/24', '192.168.2.0/24'], 'unset flags stay')
  })

  it('bad input: a clear error, exit 1, config.toml unchanged', async () => {
    const before = await readFile(join(state, 'config.toml'), 'utf8')
    const cases: Array<[string[], RegExp]> = [
      [['set'], /nothing to set/],
      [['set', '--accept-routes=maybe'], /must be true or false/],
      [['set', '--advertise-routes', '10.77.3.0/24'], /overlay/],
      [['set', '--advertise-routes', '192.168.0.0/16,192.168.7.0/24'], /overlaps 192\.168\.0\.0\/16/],
      [['set', '--advertise-routes', '127.0.0.0/8'], /host-local/],
      [['set', '--advertise-routes', '192.168.1.1/24'], /host bits set/],
    ]
    for (const [args, why] of cases) {
      const r = await meshlan(state, args)
      assert.notEqual(r.code, 0, `${args.join(' ')} succeeded`)
      assert.match(r.stderr, why, `${args.join(' ')}: ${r.stderr}`)
    }
    assert.equal(await readFile(join(state, 'config.toml'), 'utf8'), before)
  })
})
