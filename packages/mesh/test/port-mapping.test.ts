/**
 * PortMapper (reachability/port-mapping.ts) with a fake gateway: maps in the background, renews at
 * half-life, keeps a mapping through a failed renewal while its lease lasts, drops it after, and
 * removes it on stop, bounded even when the router has gone away.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLogger } from '../src/logger.ts'
import type { MappingGateway, PortMapClient } from '../src/reachability/port-map-client.ts'
import { PortMapper } from '../src/reachability/port-mapping.ts'
import { until } from './helpers.ts'

const log = createLogger('pm', { level: 'error' })

function fakeGateway(opts: { fail?: () => boolean; hangUnmap?: boolean } = {}) {
  const calls: string[] = []
  const gw: MappingGateway = {
    protocol: 'upnp',
    host: '198.18.71.1',
    async map(port, host, lifetimeMs) {
      calls.push(`map ${host}:${port}`)
      if (opts.fail?.() === true) throw new Error('refused')
      return { externalIp: '11.70.0.1', externalPort: port, lifetimeMs }
    },
    unmap(port, signal) {
      calls.push(`unmap ${port}`)
      if (opts.hangUnmap !== true) return Promise.resolve()
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error('timed out'))),
      )
    },
    async close() {
      calls.push('close')
    },
  }
  return { gw, calls }
}

function mapper(client: PortMapClient, extra: Partial<ConstructorParameters<typeof PortMapper>[0]> = {}) {
  let changes = 0
  const pm = new PortMapper({
    client,
    log,
    listenPort: () => 7946,
    localIpFor: () => '198.18.71.10',
    onChange: () => {
      changes++
    },
    ...extra,
  })
  return { pm, changes: () => changes }
}

describe('PortMapper', () => {
  it('maps in the background, announces, renews at half-life, removes the mapping on stop', async () => {
    const { gw, calls } = fakeGateway()
    const { pm, changes } = mapper({ findGateway: async () => gw }, { lifetimeMs: 2_000 })
    const t0 = Date.now()
    pm.start()
    assert.ok(Date.now() - t0 < 50, 'start returns at once')
    await until(() => pm.current() != null, 2000)
    const m = pm.current()
    assert.ok(m != null)
    assert.equal(m.protocol, 'upnp')
    assert.equal(m.external, '/ip4/11.70.0.1/tcp/7946')
    assert.equal(m.internal, '/ip4/198.18.71.10/tcp/7946')
    assert.ok(m.expiresAt - m.mappedAt >= 1_900 && m.expiresAt - m.mappedAt <= 2_100)
    assert.deepEqual(pm.externalAddrs(), ['/ip4/11.70.0.1/tcp/7946'])
    assert.equal(changes(), 1)
    // half of 2 s: renewed about 1 s later, without announcing again (same address)
    await until(() => (pm.current()?.renewals ?? 0) >= 1, 3000)
    const r = pm.current()
    assert.ok(r?.renewedAt != null && r.renewedAt - m.mappedAt >= 900, 'renewed at half-life')
    assert.ok(r.expiresAt > m.expiresAt)
    assert.equal(changes(), 1)
    await pm.stop()
    assert.deepEqual(calls.slice(-2), ['unmap 7946', 'close'])
    assert.equal(pm.current(), null)
  })

  it('a failed renewal keeps the mapping while its lease lasts, then drops and announces it', async () => {
    let failing = false
    const { gw } = fakeGateway({ fail: () => failing })
    const { pm, changes } = mapper(
      { findGateway: async () => gw },
      { lifetimeMs: 1_200, retryMs: 200, rediscoverMs: 60_000 },
    )
    pm.start()
    await until(() => pm.current() != null, 2000)
    failing = true
    const expires = pm.current()?.expiresAt ?? 0
    // the renewal at 600 ms fails; retries every 200 ms keep it until the lease is nearly over
    await new Promise((r) => setTimeout(r, 800))
    assert.ok(pm.current() != null && Date.now() < expires, 'still held inside the lease')
    await until(() => pm.current() == null, 3000)
    assert.equal(changes(), 2, 'announced when it appeared and when it went')
    assert.match(pm.view().state, /refused/)
    await pm.stop()
  })

  it('no gateway: no mapping, says why; stop is bounded when the router is gone', async () => {
    const none = mapper({ findGateway: async () => null }, { discoverTimeoutMs: 100 })
    none.pm.start()
    await until(() => /no UPnP IGD or NAT-PMP gateway/.test(none.pm.view().state), 2000)
    assert.equal(none.pm.current(), null)
    await none.pm.stop()

    const { gw, calls } = fakeGateway({ hangUnmap: true })
    const gone = mapper({ findGateway: async () => gw })
    gone.pm.start()
    await until(() => gone.pm.current() != null, 2000)
    const t0 = Date.now()
    await gone.pm.stop()
    assert.ok(Date.now() - t0 < 3_000, `stop took ${Date.now() - t0} ms`)
    assert.ok(calls.includes('close'))
  })
})
