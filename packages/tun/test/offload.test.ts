import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { addNetns, delNetns, labUnavailable, runInNetns } from './fixtures/lab.ts'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const NS1 = `mloffa${process.pid}`
const NS2 = `mloffb${process.pid}`
const BYTES = 8 << 20
const skip = labUnavailable()
/** Each lab test skips (and is counted as skipped) when it cannot run here. */
const lab = skip ? { skip: `skipped: ${skip}` } : {}
if (skip && process.env.MESHLAN_REQUIRE_LABS === '1') {
  throw new Error(`TUN lab tests must run here (MESHLAN_REQUIRE_LABS=1) but cannot: ${skip}`)
}

interface RelayStats {
  a: Record<string, number>
  b: Record<string, number>
  maxRead: { a: number; b: number }
  mtu: number
}

/** Relay between two namespaces, TCP echo server in NS2, client in NS1; returns what they saw. */
async function transfer(offA: boolean, offB: boolean, prefix: string) {
  const relay = runInNetns(NS1, fixture('relay.ts'), [NS2, offA ? '1' : '0', offB ? '1' : '0', prefix])
  let server: ReturnType<typeof runInNetns> | undefined
  let client: ReturnType<typeof runInNetns> | undefined
  try {
    await relay.next('ready')
    server = runInNetns(NS2, fixture('tcp.ts'), ['server', `${prefix}.2`, '5001'])
    await server.next('ready')
    client = runInNetns(NS1, fixture('tcp.ts'), ['client', `${prefix}.2`, '5001', String(BYTES)])
    const result = await client.next('result')
    relay.send('stats')
    const stats = await relay.next('stats')
    if (process.env.MESHLAN_TUN_DEBUG) console.log(JSON.stringify(stats))
    relay.send('close')
    return { result, stats: stats as unknown as RelayStats }
  } finally {
    client?.kill()
    server?.kill()
    relay.kill()
  }
}

describe('offload (virtio-net headers, TSO) through a relay', { timeout: 60_000 }, () => {
  before(() => {
    if (skip) return
    addNetns(NS1)
    addNetns(NS2)
  })
  after(() => {
    if (skip) return
    delNetns(NS1)
    delNetns(NS2)
  })

  it('carries TCP super-packets between two offload TUNs intact', lab, async () => {
    const { result, stats } = await transfer(true, true, '10.151.0')
    assert.equal(result.error, undefined)
    assert.equal(result.received, BYTES)
    assert.equal(result.got, result.sent, 'sha256 of echoed data equals what was sent')
    assert.ok(stats.maxRead.a > stats.mtu + 10, `super-packets were read (largest ${stats.maxRead.a} bytes)`)
    assert.equal(stats.b.segments, 0, 'nothing had to be split')
  })

  it('splits super-packets for a TUN without offload, and adds headers the other way', lab, async () => {
    const { result, stats } = await transfer(true, false, '10.152.0')
    assert.equal(result.error, undefined)
    assert.equal(result.received, BYTES)
    assert.equal(result.got, result.sent, 'sha256 of echoed data equals what was sent')
    assert.ok(stats.b.segments > 0, 'super-packets from the offload side were segmented')
    assert.ok(stats.maxRead.b <= stats.mtu, 'the plain side only sees MTU-sized packets')
  })

  it('also works with a plain TUN on the sending side and offload on the receiving side', lab, async () => {
    const { result, stats } = await transfer(false, true, '10.153.0')
    assert.equal(result.error, undefined)
    assert.equal(result.got, result.sent, 'sha256 of echoed data equals what was sent')
    assert.equal(result.received, BYTES)
    assert.ok(stats.a.segments > 0, 'super-packets from the offload side were segmented')
  })
})
