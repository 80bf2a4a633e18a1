/**
 * `meshlan set` / `up` route flags without a daemon: the change is checked (bad prefixes, the
 * overlay subnet, unknown settings and wrong types refused with what to do) and persisted in
 * config.toml's `[routes]`, keeping every other setting; the next load gives exactly it back.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { InvalidRouteError, RouteOverlapsOverlayError } from '@meshlan/mesh'
import { loadConfig } from '../src/config.ts'
import { Controller } from '../src/controller.ts'
import { InvalidArgumentError } from '../src/errors.ts'
import { checkRouteSettingsChange, routeSettingsOf, saveRouteSettingsOffline } from '../src/route-settings.ts'
import { StateDir } from '../src/state.ts'

describe('route settings (offline set)', () => {
  let root: string
  let state: StateDir
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-set-'))
    state = new StateDir(join(root, 'n'))
    const c = new Controller({ state, hostRoutes: async () => [], hostAddresses: () => ['192.0.2.10'] })
    await c.init({ name: 'router' })
    await c.networkCreate({ name: 'home', subnet: '172.30.0.0/16' })
    // a config written by someone else, with settings of its own
    await writeFile(state.path('config'), 'name = "router"\nrelay = true\n[tun]\nmtu = 1380\n')
  })
  after(async () => rm(root, { recursive: true, force: true }))

  it('persists a change in [routes] and keeps every other setting', async () => {
    const c = await saveRouteSettingsOffline(state, {
      advertiseRoutes: ['192.168.1.0/24'],
      advertiseExitNode: true,
      exitNode: 'gw',
      exitNodeAllowLanAccess: true,
      snatSubnetRoutes: false,
    })
    assert.deepEqual(routeSettingsOf(c), {
      advertiseRoutes: ['192.168.1.0/24'],
      advertiseExitNode: true,
      acceptRoutes: false,
      exitNode: 'gw',
      exitNodeAllowLanAccess: true,
      snatSubnetRoutes: false,
    })
    const again = await loadConfig(state.dir)
    assert.equal(again.relay, true)
    assert.equal(again.tun.mtu, 1380)
    assert.deepEqual(routeSettingsOf(again), routeSettingsOf(c))
    // clearing the exit node and a later partial change leave the rest alone
    const cleared = await saveRouteSettingsOffline(state, { exitNode: null, acceptRoutes: true })
    assert.equal(cleared.routes.exit_node, null)
    assert.equal(cleared.routes.accept, true)
    assert.deepEqual(cleared.routes.advertise, ['192.168.1.0/24'])
  })

  it('refuses bad prefixes and the overlay subnet; nothing is written', async () => {
    const before = await readFile(state.path('config'), 'utf8')
    await assert.rejects(
      saveRouteSettingsOffline(state, { advertiseRoutes: ['192.168.1.7/24'] }),
      InvalidRouteError,
    )
    await assert.rejects(
      saveRouteSettingsOffline(state, { advertiseRoutes: ['127.0.0.0/8'] }),
      InvalidRouteError,
    )
    await assert.rejects(
      saveRouteSettingsOffline(state, { advertiseRoutes: ['172.30.4.0/24'] }),
      RouteOverlapsOverlayError,
    )
    assert.equal(await readFile(state.path('config'), 'utf8'), before)
  })

  it('the control method checks names and types of what a local client sends', () => {
    assert.deepEqual(checkRouteSettingsChange({ exitNode: '', acceptRoutes: false }), {
      exitNode: null,
      acceptRoutes: false,
    })
    assert.throws(() => checkRouteSettingsChange({ exit: 'gw' }), InvalidArgumentError)
    assert.throws(
      () => checkRouteSettingsChange({ acceptRoutes: 'yes' }),
      /acceptRoutes must be true or false/,
    )
    assert.throws(() => checkRouteSettingsChange({ advertiseRoutes: '10.0.0.0/8' }), /list of CIDRs/)
    assert.throws(() => checkRouteSettingsChange({ exitNode: 7 }), /exitNode must be/)
  })
})
