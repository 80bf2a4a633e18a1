/**
 * watchInterfaces against the kernel: in a namespace of its own, an address added or removed, a
 * link created, set up or deleted each reach the callback; nothing does when nothing changes; a
 * closed watch reports nothing more. The daemon reads the interface list only after such a call
 * (mesh/src/overlay.ts), so a missed change would leave it announcing stale addresses.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { addNetns, delNetns, ip, labUnavailable, type NsProcess, runInNetns } from './fixtures/lab.ts'

const fixture = fileURLToPath(new URL('./fixtures/netmon-lab.ts', import.meta.url))
const skip = labUnavailable()
const lab = skip ? { skip: `skipped: ${skip}` } : {}

describe('watchInterfaces in a namespace', { timeout: 30_000 }, () => {
  const ns = `mlnetmon${process.pid}`
  let proc: NsProcess | undefined

  before(async () => {
    if (skip) return
    addNetns(ns)
    proc = runInNetns(ns, fixture)
    await proc.next('ready')
  })
  after(() => {
    proc?.kill()
    if (!skip) delNetns(ns)
  })

  const count = async (): Promise<number> => {
    proc!.send({ cmd: 'count' })
    return (await proc!.next('count')).n as number
  }
  /** Runs `change` and waits until a callback follows it (the kernel's message is async). */
  const seen = async (what: string, change: () => void): Promise<void> => {
    // a change is one message or a few (a link's up also brings an IPv6 link-local address): let
    // the previous step's settle first
    await sleep(300)
    const before = await count()
    change()
    for (let i = 0; i < 100 && (await count()) === before; i++) await sleep(50)
    assert.ok((await count()) > before, `${what}: no callback within 5 s`)
  }

  it('nothing changes: no callback', lab, async () => {
    const n0 = await count()
    await sleep(1_000)
    assert.equal(await count(), n0)
  })

  it('an address added and removed', lab, async () => {
    await seen('address added', () => ip('-n', ns, 'addr', 'add', '10.211.0.1/32', 'dev', 'lo'))
    await seen('address removed', () => ip('-n', ns, 'addr', 'del', '10.211.0.1/32', 'dev', 'lo'))
  })

  it('a link (a veth pair) created, set up, deleted', lab, async () => {
    await seen('link created', () =>
      ip('-n', ns, 'link', 'add', 'nmveth0', 'type', 'veth', 'peer', 'name', 'nmveth1'),
    )
    await seen('link up', () => ip('-n', ns, 'link', 'set', 'nmveth0', 'up'))
    await seen('link deleted', () => ip('-n', ns, 'link', 'del', 'nmveth0'))
  })

  it('after close() nothing more is reported', lab, async () => {
    proc!.send({ cmd: 'close' })
    const n = (await proc!.next('closed')).n as number
    ip('-n', ns, 'addr', 'add', '10.211.0.2/32', 'dev', 'lo')
    await sleep(500)
    assert.equal(await count(), n)
  })
})
