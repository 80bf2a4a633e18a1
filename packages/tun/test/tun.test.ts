import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { addNetns, delNetns, labUnavailable, runInNetns } from './fixtures/lab.ts'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const NS = `mltun${process.pid}`
const skip = labUnavailable()
/** Each lab test skips (and is counted as skipped) when it cannot run here. */
const lab = skip ? { skip: `skipped: ${skip}` } : {}
if (skip && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`TUN lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${skip}`)
}

describe('TUN in a network namespace', { timeout: 60_000 }, () => {
  before(() => {
    if (!skip) addNetns(NS)
  })
  after(() => {
    if (!skip) delNetns(NS)
  })

  it(
    'written packets reach the kernel: echo requests to our own address come back as replies',
    lab,
    async () => {
      const p = runInNetns(NS, fixture('echo.ts'))
      try {
        const w = await p.next('written')
        assert.equal(w.written, 3)
        assert.equal(w.written2, 1)
        const r = await p.next('result')
        assert.deepEqual(r.replies, [1, 2, 3, 4])
        assert.equal(r.checksumsOk, true)
        const stats = r.stats as Record<string, number>
        assert.equal(stats.txPackets, 4)
        assert.equal(stats.txDrops, 0)
        assert.ok(stats.rxPackets >= 4)
        assert.equal(await p.exited, 0, p.stderr())
      } finally {
        p.kill()
      }
    },
  )

  it('packets the kernel sends arrive in batches with headroom before each packet', lab, async () => {
    const p = runInNetns(NS, fixture('burst.ts'), ['600'])
    try {
      const s = await p.next('sent')
      assert.equal(s.paused, true)
      assert.equal(s.rxWhilePaused, 0, 'nothing is read while paused')
      const r = await p.next('result')
      assert.equal(r.seen, 600, 'every datagram arrived')
      assert.ok((r.multi as number) > 0, 'some batches carry more than one packet')
      assert.ok((r.maxCount as number) <= 64, 'batchSize is respected')
      assert.ok((r.maxCount as number) > 1)
      assert.equal(r.layoutOk, true, 'layout [headroom][pkt]... and slab sized exactly')
      assert.equal(r.keptOk, true)
      assert.equal(await p.exited, 0, p.stderr())
    } finally {
      p.kill()
    }
  })

  it(
    'configures the interface, reports name clashes, manages addresses, and close() removes it',
    lab,
    async () => {
      const p = runInNetns(NS, fixture('lifecycle.ts'))
      try {
        const r = await p.next('result')
        assert.equal(r.name, 'mlcyc0')
        assert.equal(r.exists, true)
        assert.equal(r.mtu, 1380)
        assert.equal(r.txQueueLen, 4000)
        assert.equal(r.up, true)
        assert.equal(r.address, true)
        assert.equal((r.sameName as { name: string }).name, 'TunNameInUseError')
        assert.match((r.sameName as { message: string }).message, /choose another name/)
        assert.equal((r.otherKind as { name: string }).name, 'TunNameInUseError')
        assert.equal(r.added, true)
        assert.equal(r.removed, true)
        assert.equal((r.badRemove as { name: string }).name, 'TunConfigError')
        assert.match(r.kernelNamed as string, /^mlk\d+$/)
        assert.equal(r.closed, true)
        assert.equal(r.goneAfterClose, true)
        assert.equal(r.writeAfterClose, 0)
        assert.equal(await p.exited, 0, p.stderr())
      } finally {
        p.kill()
      }
    },
  )

  it('without root or CAP_NET_ADMIN opening fails with TunPermissionError', lab, async () => {
    const wrap = [
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
    ]
    const p = runInNetns(NS, fixture('unprivileged.ts'), [], wrap)
    try {
      const r = await p.next('result')
      assert.equal(r.opened, false)
      assert.equal(r.name, 'TunPermissionError', String(r.message))
      assert.match(r.message as string, /run as root or grant CAP_NET_ADMIN/)
    } finally {
      p.kill()
    }
  })
})
