/**
 * Crafted frame-type-3 input (virtio_net_hdr + IPv4, as a remote peer sends it) written through
 * the real TUN write path, with and without offloads, and what the kernel received (listeners and
 * /proc/net/snmp in the namespace). Issue 8 §1: a peer's header must never steer the kernel.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { addNetns, delNetns, labUnavailable, type NsProcess, runInNetns } from './fixtures/lab.ts'

const fixture = fileURLToPath(new URL('./fixtures/vnet-lab.ts', import.meta.url))
const skip = labUnavailable()
/** Each lab test skips (and is counted as skipped) when it cannot run here. */
const lab = skip ? { skip: `skipped: ${skip}` } : {}
const FORBIDDEN = 6379
const ALLOWED = 2222

interface Outcome {
  error?: string
  written: number
  datagrams: { port: number; data: string }[]
  udpIn: number
  tcpIn: number
  ipIn: number
  txPackets: number
  txDrops: number
  vnetRefused: number
  sent?: string
  got?: string
  bytes?: number
}

for (const offload of [false, true]) {
  const mode = offload ? 'offload TUN' : 'plain TUN'
  describe(`frame type 3 into a real ${mode}`, { timeout: 60_000 }, () => {
    const ns = `mlvnet${offload ? 'o' : 'p'}${process.pid}`
    let proc: NsProcess | undefined
    const ask = async (cmd: string): Promise<Outcome> => {
      if (proc == null) throw new Error('lab did not start')
      proc.send({ cmd })
      const r = (await proc.next(cmd)) as unknown as Outcome
      if (process.env.MESHLAN_TUN_DEBUG) console.log(mode, cmd, JSON.stringify(r))
      assert.equal(r.error, undefined, r.error)
      return r
    }

    before(async () => {
      if (skip) return
      addNetns(ns)
      proc = runInNetns(ns, fixture, [offload ? '1' : '0', offload ? '10.155.0' : '10.154.0'])
      await proc.next('ready')
    })
    after(async () => {
      if (proc != null) {
        proc.send({ cmd: 'close' })
        await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 2000))])
        proc.kill()
      }
      if (!skip) delNetns(ns)
    })

    it('delivers a valid NEEDS_CSUM datagram intact to the allowed port', lab, async () => {
      const r = await ask('validUdp')
      assert.equal(r.written, 1)
      assert.deepEqual(
        r.datagrams.map((d) => [d.port, Buffer.from(d.data, 'hex').toString()]),
        [[ALLOWED, 'hello over type 3']],
      )
    })

    it('attack: a checksum write aimed at the destination port never reaches 6379', lab, async () => {
      const r = await ask('portRewrite')
      assert.deepEqual(
        r.datagrams.filter((d) => d.port === FORBIDDEN),
        [],
        'nothing reached the forbidden port',
      )
      assert.equal(r.udpIn, 0, 'the kernel received no datagram at all')
      assert.equal(r.written, 0)
      assert.equal(r.vnetRefused, 1, 'the frame was refused and counted')
    })

    it('attack: gso_size=1 on a 64 KiB super-packet is refused, not split', lab, async () => {
      const r = await ask('gsoSize1')
      assert.equal(r.written, 0)
      assert.equal(r.vnetRefused, 1, 'refused and counted')
      assert.equal(r.txPackets, 0, 'nothing was written to the TUN')
      assert.ok(r.tcpIn < 10, `the kernel received ${r.tcpIn} TCP segments`)
    })

    it('delivers a valid TCP super-packet intact on an established connection', lab, async () => {
      const r = await ask('validSuper')
      assert.equal(r.written, 1)
      assert.equal(r.vnetRefused, 0)
      assert.equal(r.bytes, 20000)
      assert.equal(r.got, r.sent, 'sha256 of the bytes the listener read equals what was sent')
      if (!offload) assert.equal(r.txPackets, Math.ceil(20000 / 1348), 'split at the MTU')
    })
  })
}
