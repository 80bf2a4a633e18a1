/**
 * The pump's type-3 ingress (issue 8 §1): a peer's virtio_net_hdr is validated before the filter
 * and rebuilt from the packet, so the filter sees the bytes the device (and the kernel) receive.
 * Real ACL (guests may reach 22/tcp only), real frame decoder; an in-memory device records what
 * reached it. Intended path: packages/mesh/test/pump-vnet.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { encodeFrame, FRAME_TYPE_IP_VNET } from '@meshlan/wire'
import {
  type AclContext,
  allowAllAcl,
  compileAcl,
  createConntrack,
  createPacketFilter,
  parseAcl,
  parseIpv4,
} from '../src/acl/index.ts'
import { createLogger } from '../src/logger.ts'
import { MemoryDevice } from '../src/memory-device.ts'
import { Pump } from '../src/pump.ts'

const SERVER = parseIpv4('10.144.0.1') as number
const GUEST = parseIpv4('10.144.0.50') as number
const ctx: AclContext = {
  nodeIp: (n) => (n === 'server' ? SERVER : undefined),
  tagIps: () => [],
  keyName: 'guests',
}

/** A type-3 frame payload: vnet header + TCP/IPv4 packet from the guest to the server. */
function vnetTcp(
  h: {
    flags: number
    gsoType?: number
    hdrLen?: number
    gsoSize?: number
    csumStart: number
    csumOffset: number
  },
  dport: number,
  payload: number,
): Uint8Array {
  const b = new Uint8Array(10 + 40 + payload)
  const v = new DataView(b.buffer)
  b[0] = h.flags
  b[1] = h.gsoType ?? 0
  v.setUint16(2, h.hdrLen ?? 0, true)
  v.setUint16(4, h.gsoSize ?? 0, true)
  v.setUint16(6, h.csumStart, true)
  v.setUint16(8, h.csumOffset, true)
  b[10] = 0x45
  v.setUint16(12, 40 + payload)
  v.setUint16(16, 0x4000)
  b[18] = 64
  b[19] = 6
  v.setUint32(22, GUEST)
  v.setUint32(26, SERVER)
  v.setUint16(30, 40000)
  v.setUint16(32, dport)
  b[42] = 0x50
  b[43] = 0x10
  return b
}

/** A pump on the server with one guest link and one inbound stream we can push bytes into. */
function serverPump() {
  const lines: string[] = []
  const device = new MemoryDevice()
  const pump = new Pump(
    { log: createLogger('pump', { level: 'warn', sink: (l) => lines.push(l) }) },
    { device, openStream: () => Promise.reject(new Error('not in this test')) },
  )
  const acl = parseAcl('{"rules":[{"to":["node:server"],"ports":["22/tcp"]}]}')
  assert.ok(acl.ok)
  const filter = createPacketFilter({
    selfIp: SERVER,
    peerIp: GUEST,
    inbound: compileAcl(acl.acl, ctx),
    outbound: compileAcl(allowAllAcl(), ctx),
    conntrack: createConntrack({ capacity: 64 }),
  })
  pump.setSelfIp(SERVER)
  pump.upsertPeer('guest', GUEST, filter)
  pump.start()
  const stream = new EventTarget() as EventTarget & { abort(e: Error): void }
  stream.abort = () => {}
  pump.acceptInbound('guest', stream as unknown as Stream)
  const send = (payload: Uint8Array) => {
    const evt = new Event('message') as Event & { data: Uint8Array }
    evt.data = encodeFrame(FRAME_TYPE_IP_VNET, payload)
    stream.dispatchEvent(evt)
  }
  return { pump, device, send, lines }
}

describe('pump: type-3 ingress', () => {
  it('attack: a checksum aimed at the destination port (22 → 6379) is dropped as BAD_VNET, logged with the peer', () => {
    const { pump, device, send, lines } = serverPump()
    send(vnetTcp({ flags: 1, csumStart: 22, csumOffset: 0 }, 22, 100))
    assert.equal(device.written.length, 0, 'nothing reached the device')
    assert.equal(pump.dropCounts().BAD_VNET, 1)
    assert.equal(pump.dropCounts().ACL, 0, 'refused before the filter ran')
    assert.equal(lines.length, 1)
    assert.match(lines[0], /peer=guest reason=CSUM_START/)
    send(vnetTcp({ flags: 1, csumStart: 20, csumOffset: 2 }, 22, 100))
    assert.equal(pump.dropCounts().BAD_VNET, 2)
    assert.equal(lines.length, 1, 'rate-limited: one warning per second')
  })

  it('attack: gso_size=1 on a 64 KiB super-packet is dropped as BAD_VNET', () => {
    const { pump, device, send } = serverPump()
    send(
      vnetTcp(
        { flags: 1, gsoType: 1, hdrLen: 40, gsoSize: 1, csumStart: 20, csumOffset: 16 },
        22,
        65535 - 40,
      ),
    )
    assert.equal(device.written.length, 0)
    assert.equal(pump.dropCounts().BAD_VNET, 1)
  })

  it('a valid super-packet to 22 reaches the device with a header rebuilt from the packet', () => {
    const { pump, device, send } = serverPump()
    // hdr_len 200 is a legal hint (Linux sends its linear head length); the device gets 40
    send(
      vnetTcp({ flags: 1, gsoType: 1, hdrLen: 200, gsoSize: 1348, csumStart: 20, csumOffset: 16 }, 22, 20000),
    )
    assert.equal(pump.dropCounts().BAD_VNET, 0)
    assert.equal(device.written.length, 1)
    const got = device.written[0]
    assert.deepEqual([...got.subarray(0, 10)], [1, 1, 40, 0, 0x44, 0x05, 20, 0, 16, 0])
    assert.equal((got[32] << 8) | got[33], 22, 'the port the filter saw is the port delivered')
  })

  it('the filter still applies to valid type-3 frames (6379 is not allowed)', () => {
    const { pump, device, send } = serverPump()
    send(vnetTcp({ flags: 1, csumStart: 20, csumOffset: 16 }, 6379, 10))
    assert.equal(device.written.length, 0)
    assert.equal(pump.dropCounts().ACL, 1)
    assert.equal(pump.dropCounts().BAD_VNET, 0)
  })
})
