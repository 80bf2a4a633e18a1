/**
 * The contract of src/dns2-servers.ts: what the resolver relies on in dns2's servers beyond their
 * type declarations. A dns2 upgrade that breaks one of these fails here, by name, instead of
 * silently turning off the rate limit, FORMERR answers or UDP truncation.
 */
import assert from 'node:assert/strict'
import type { RemoteInfo } from 'node:dgram'
import { once } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'
import { describe, it } from 'node:test'
import type dns2 from 'dns2'
import { Packet } from 'dns2'
import { createTcpServer, createUdpServer, sendUdp } from '../src/dns2-servers.ts'
import { buildQuery, tcpExchange, udpExchange } from './helpers.ts'

const TC = 0x02

async function boundUdp(onMessage: (data: Buffer, rinfo: RemoteInfo) => void) {
  const udp = createUdpServer('udp4', onMessage)
  udp.bind(0, '127.0.0.1')
  await once(udp, 'listening')
  return { udp, port: udp.address().port }
}

describe('dns2 contract: UDP', () => {
  it('our listener gets every datagram and dns2 parses none (no request, no requestError)', async () => {
    const got: Buffer[] = []
    const { udp, port } = await boundUdp((data) => got.push(data))
    let dns2Saw = 0
    udp.on('request', () => dns2Saw++)
    udp.on('requestError', () => dns2Saw++)
    try {
      assert.equal(await udpExchange(port, buildQuery('a.mesh', Packet.TYPE.A), 200), null)
      assert.equal(await udpExchange(port, Buffer.from('garbage, not dns'), 200), null)
      assert.equal(got.length, 2, 'both datagrams reached our listener')
      assert.equal(got[1].toString(), 'garbage, not dns')
      assert.equal(
        dns2Saw,
        0,
        "dns2's own 'message' parser is still hooked: the rate limit no longer runs first",
      )
    } finally {
      udp.close()
    }
  })

  it('sendUdp fits a reply into maxPayload: longer ones are cut with TC=1, shorter ones go as they are', async () => {
    const replies: { size: number; budget: number }[] = [
      { size: 100, budget: 512 },
      { size: 1000, budget: 512 },
      { size: 1000, budget: 1232 },
    ]
    let next = 0
    const { udp, port } = await boundUdp((_data, rinfo) => {
      const { size, budget } = replies[next++]
      const out = Buffer.alloc(size, 0xab)
      out[2] = 0x80 // QR, TC clear
      sendUdp(udp, rinfo, out, budget).catch(() => {})
    })
    try {
      const small = await udpExchange(port, Buffer.from('q1'))
      assert.equal(small?.length, 100)
      assert.equal(small![2] & TC, 0)
      const cut = await udpExchange(port, Buffer.from('q2'))
      assert.equal(cut?.length, 512, 'cut to the budget')
      assert.equal(cut![2] & TC, TC, 'TC set so the client retries over TCP')
      const edns = await udpExchange(port, Buffer.from('q3'))
      assert.equal(edns?.length, 1000, 'an EDNS budget lets it through whole')
      assert.equal(edns![2] & TC, 0)
    } finally {
      udp.close()
    }
  })
})

describe('dns2 contract: TCP', () => {
  async function boundTcp(handler: dns2.DnsHandler) {
    const tcp = createTcpServer(handler)
    const errors: Error[] = []
    tcp.on('requestError', (e: Error) => errors.push(e))
    tcp.listen({ port: 0, host: '127.0.0.1' })
    await once(tcp, 'listening')
    return { tcp, errors, port: (tcp.address() as AddressInfo).port }
  }

  it('a framed query reaches the handler parsed, with the socket; send() writes a framed reply', async () => {
    const { tcp, port } = await boundTcp((request, send, client) => {
      assert.equal(typeof (client as Socket).remoteAddress, 'string', 'the client is the net.Socket')
      const r = Packet.createResponseFromRequest(request)
      send(r)
    })
    try {
      const q = buildQuery('a.mesh', Packet.TYPE.A, { id: 4242 })
      const reply = await tcpExchange(port, q)
      assert.ok(reply, 'a reply came back')
      const p = Packet.parse(reply)
      assert.equal(p.header.id, 4242)
      assert.equal(p.header.qr, 1)
    } finally {
      tcp.close()
    }
  })

  it('a message dns2 cannot read is requestError without an errno code, and the connection closes', async () => {
    let handled = 0
    const { tcp, errors, port } = await boundTcp(() => handled++)
    try {
      assert.equal(await tcpExchange(port, Buffer.from('short'), 1000), null)
      assert.equal(handled, 0)
      assert.ok(errors.length >= 1, 'requestError emitted')
      // the resolver counts requestErrors without `code` as malformed queries
      assert.equal((errors[0] as { code?: string }).code, undefined)
    } finally {
      tcp.close()
    }
  })
})
