import type { RemoteInfo } from 'node:dgram'
import dns2, { Packet } from 'dns2'

export interface FakeUpstream {
  port: number
  seen: { name: string; type: number; transport: 'udp' | 'tcp'; edns: boolean }[]
  close(): Promise<void>
}

/**
 * A tiny upstream DNS server (dns2, UDP and TCP on one port of 127.0.0.1): `example.test` A →
 * 192.0.2.7, `big.test` TXT → 40 records (too big for 512-byte UDP), `fail.test` → SERVFAIL,
 * anything else → NXDOMAIN.
 */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const seen: FakeUpstream['seen'] = []
  const handle: dns2.DnsHandler = (request, send, client) => {
    const q = request.questions[0]
    const transport = (client as RemoteInfo).family === undefined ? 'tcp' : 'udp'
    const edns = request.additionals.some((r) => r?.type === Packet.TYPE.EDNS)
    if (q) seen.push({ name: q.name, type: q.type, transport, edns })
    const res = Packet.createResponseFromRequest(request)
    res.header.ra = 1
    const name = (q?.name ?? '').toLowerCase()
    if (name === 'example.test' && q.type === Packet.TYPE.A) {
      res.answers.push({
        name: q.name,
        type: Packet.TYPE.A,
        class: Packet.CLASS.IN,
        ttl: 300,
        address: '192.0.2.7',
      } as dns2.Packet.Resource)
    } else if (name === 'big.test') {
      for (let i = 0; i < 40; i++) {
        res.answers.push({
          name: q.name,
          type: Packet.TYPE.TXT,
          class: Packet.CLASS.IN,
          ttl: 300,
          data: [`record number ${i} padding padding`],
        } as dns2.Packet.Resource)
      }
    } else if (name === 'fail.test') {
      res.header.rcode = Packet.RCODE.SERVFAIL
    } else {
      res.header.rcode = Packet.RCODE.NXDOMAIN
    }
    Promise.resolve(send(res)).catch(() => {})
  }
  const udp = dns2.createUDPServer(handle)
  udp.on('requestError', () => {})
  await udp.listen(0, '127.0.0.1')
  const port = udp.address().port
  const tcp = dns2.createTCPServer(handle)
  tcp.on('requestError', () => {})
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject)
    tcp.listen(port, '127.0.0.1', () => resolve())
  })
  return {
    port,
    seen,
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()))
      await new Promise<void>((resolve) => tcp.close(() => resolve()))
    },
  }
}
