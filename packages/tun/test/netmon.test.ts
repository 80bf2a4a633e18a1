/**
 * watchInterfaces against the kernel: in a namespace of its own, an address added or removed, a
 * link created, set up or deleted each reach the callback; nothing does when nothing changes; a
 * closed watch reports nothing more. The daemon reads the interface list only after such a call
 * (mesh/src/overlay.ts), so a missed change would leave it announcing stale addresses.
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

  /** The fixture's answer to `cmd` (count, drops), which names it. */
  const ask = async (cmd: string): Promise<Record<string, unknown>> => {
    proc!.send({ cmd })
    return proc!.next(cmd)
  }
  const count = async (): Promise<number> => (await ask('count')).n as number
  const drops = async (): Promise<number> => (await ask('drops')).n as number
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

  it('an IPv6 address added and removed on a link that is already up', lab, async () => {
    ip('-n', ns, 'link', 'add', 'nmv6a', 'type', 'veth', 'peer', 'name', 'nmv6b')
    ip('-n', ns, 'link', 'set', 'nmv6a', 'up')
    await seen('IPv6 address added', () =>
      ip('-n', ns, '-6', 'addr', 'add', 'fd00:211::1/64', 'dev', 'nmv6a', 'nodad'),
    )
    await seen('IPv6 address removed', () =>
      ip('-n', ns, '-6', 'addr', 'del', 'fd00:211::1/64', 'dev', 'nmv6a'),
    )
    ip('-n', ns, 'link', 'del', 'nmv6a')
  })

  it(
    'more changes than the socket can queue (ENOBUFS), twice: one callback after each, and the watch goes on',
    lab,
    async () => {
      ip('-n', ns, 'link', 'add', 'nmflood0', 'type', 'veth', 'peer', 'name', 'nmflood1')
      await sleep(300)
      // twice (2000 addresses added, then deleted), as a storm of changes overruns it again and
      // again: each time the event loop is held while they come, the kernel queues a few hundred
      // notifications (the socket's receive buffer) and drops the rest
      for (const verb of ['add', 'del']) {
        const drops0 = await drops()
        proc!.send({ cmd: 'block', ms: 4_000 })
        const n0 = (await proc!.next('blocking')).n as number
        const batch = join(tmpdir(), `mlnetmon-${process.pid}.batch`)
        const lines: string[] = []
        for (let i = 0; i < 2000; i++) lines.push(`addr ${verb} 10.212.${i >> 8}.${i & 255}/32 dev nmflood0`)
        writeFileSync(batch, `${lines.join('\n')}\n`)
        try {
          ip('-n', ns, '-batch', batch)
        } finally {
          rmSync(batch, { force: true })
        }
        const unblocked = (await proc!.next('unblocked')).n as number
        assert.equal(unblocked, n0, 'no callback while the loop was held')
        const dropped = (await drops()) - drops0
        assert.ok(dropped > 0, `${verb}: the kernel dropped none of the watch's messages: no overrun`)
        for (let i = 0; i < 100 && (await count()) === n0; i++) await sleep(50)
        const after = await count()
        assert.ok(after > n0, `${verb}: no callback after the overrun`)
        // one wake-up drains what was queued and the overrun: a handful of calls, not one per change
        assert.ok(after - n0 <= 5, `${verb}: ${after - n0} callbacks for one overrun`)
        // not ended (libuv stops a poll on POLLERR, which is how the kernel says "overrun": the
        // first version ended the watch here)
        assert.equal((await ask('count')).ended, false, `${verb}: the watch ended at the overrun`)
        console.log(
          `# netmon: ${verb}: ${dropped} notifications dropped by the kernel, ${after - n0} callback(s) after`,
        )
      }
      // a later change is reported as any other
      ip('-n', ns, 'link', 'del', 'nmflood0')
      await seen('a change after the overruns', () =>
        ip('-n', ns, 'addr', 'add', '10.211.0.3/32', 'dev', 'lo'),
      )
    },
  )

  it('after close() nothing more is reported', lab, async () => {
    proc!.send({ cmd: 'close' })
    const n = (await proc!.next('closed')).n as number
    ip('-n', ns, 'addr', 'add', '10.211.0.2/32', 'dev', 'lo')
    await sleep(500)
    assert.equal(await count(), n)
  })
})
