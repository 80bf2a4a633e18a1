/**
 * The contract between meshlan and @achingbrain/nat-port-mapper (port-map-client.ts), against an
 * in-process UPnP IGD v2 (description + SOAP control), no root and no network: which SOAP calls the
 * library makes with which arguments, and what our adapter corrects. Upgrading the library? This
 * must still pass, or port-map-client.ts changes with it.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { PortMapRefusedError } from '../src/reachability/errors.ts'
import { defaultGatewayIpv4, portMapClient } from '../src/reachability/port-map-client.ts'

const WAN_IP = '203.0.113.7'
const SERVICE = 'urn:schemas-upnp-org:service:WANIPConnection:2'

/** A minimal IGD v2: what a router (miniupnpd) answers, recording every call. */
function fakeIgd(): {
  server: Server
  calls: Array<{ action: string; args: Record<string, string> }>
  refuse: { on: boolean }
} {
  const calls: Array<{ action: string; args: Record<string, string> }> = []
  const refuse = { on: false }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString()
    })
    req.on('end', () => {
      if (req.url === '/rootDesc.xml') {
        res.setHeader('content-type', 'text/xml')
        res.end(`<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><UDN>uuid:fake-igd</UDN>
<serviceList><service><serviceType>${SERVICE}</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl</controlURL><SCPDURL>/scpd.xml</SCPDURL></service></serviceList></device></root>`)
        return
      }
      const action = /#(\w+)"?$/.exec(String(req.headers.soapaction ?? ''))?.[1] ?? '?'
      const args: Record<string, string> = {}
      for (const m of body.matchAll(/<(New\w+)>([^<]*)<\/\1>/g)) args[m[1]] = m[2]
      calls.push({ action, args })
      const env = (inner: string) =>
        `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${inner}</s:Body></s:Envelope>`
      res.setHeader('content-type', 'text/xml')
      if (refuse.on && action === 'AddAnyPortMapping') {
        res.statusCode = 500
        res.end(
          env(
            '<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>606</errorCode><errorDescription>Action not authorized</errorDescription></UPnPError></detail></s:Fault>',
          ),
        )
        return
      }
      const out: Record<string, string> = {
        AddAnyPortMapping: `<NewReservedPort>${args.NewExternalPort}</NewReservedPort>`,
        GetExternalIPAddress: `<NewExternalIPAddress>${WAN_IP}</NewExternalIPAddress>`,
        DeletePortMapping: '',
      }
      res.end(env(`<u:${action}Response xmlns:u="${SERVICE}">${out[action] ?? ''}</u:${action}Response>`))
    })
  })
  return { server, calls, refuse }
}

describe('port-map-client: the UPnP library contract (in-process IGD v2)', () => {
  const igd = fakeIgd()
  let url: URL
  before(async () => {
    await new Promise<void>((r) => igd.server.listen(0, '127.0.0.1', r))
    url = new URL(`http://127.0.0.1:${(igd.server.address() as AddressInfo).port}/rootDesc.xml`)
  })
  after(() => igd.server.close())

  it("maps with AddAnyPortMapping, reports the router's external address and the lease it asked for", async () => {
    const client = portMapClient({ upnpDescription: url, natPmp: false })
    const gw = await client.findGateway(AbortSignal.timeout(3000))
    assert.ok(gw != null)
    assert.equal(gw.protocol, 'upnp')
    assert.equal(gw.host, '127.0.0.1')
    // 198.18/15 is not RFC 1918: the library alone would call the internal host "external"
    const g = await gw.map(7946, '198.18.71.10', 120_000, AbortSignal.timeout(3000))
    assert.deepEqual(g, { externalIp: WAN_IP, externalPort: 7946, lifetimeMs: 3_600_000 })
    const add = igd.calls.find((c) => c.action === 'AddAnyPortMapping')
    assert.ok(add != null)
    assert.equal(add.args.NewInternalClient, '198.18.71.10')
    assert.equal(add.args.NewInternalPort, '7946')
    assert.equal(add.args.NewExternalPort, '7946')
    assert.equal(add.args.NewProtocol, 'TCP')
    assert.equal(add.args.NewPortMappingDescription, 'meshlan')
    // the library's floor: an hour, whatever we ask (lifetimeMs above says so too)
    assert.equal(add.args.NewLeaseDuration, '3600')
    await gw.unmap(7946, AbortSignal.timeout(3000))
    const del = igd.calls.find((c) => c.action === 'DeletePortMapping')
    assert.equal(del?.args.NewExternalPort, '7946')
    await gw.close()
  })

  it('a refusal is a PortMapRefusedError naming the gateway', async () => {
    igd.refuse.on = true
    try {
      const gw = await portMapClient({ upnpDescription: url, natPmp: false }).findGateway(
        AbortSignal.timeout(3000),
      )
      assert.ok(gw != null)
      await assert.rejects(gw.map(7946, '198.18.71.10', 60_000, AbortSignal.timeout(3000)), (err: Error) => {
        assert.ok(err instanceof PortMapRefusedError)
        assert.match(err.message, /upnp gateway 127\.0\.0\.1 did not map TCP port 7946/)
        return true
      })
      await gw.close()
    } finally {
      igd.refuse.on = false
    }
  })

  it('no gateway answering: null within the bound, never a hang', async () => {
    const t0 = Date.now()
    const gw = await portMapClient({
      upnpDescription: new URL('http://127.0.0.1:9/rootDesc.xml'),
      natPmp: false,
    }).findGateway(AbortSignal.timeout(1000))
    assert.equal(gw, null)
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`)
  })

  it('the default gateway comes from /proc/net/route', () => {
    const routes = [
      'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask',
      'eth0\t0047A8C6\t00000000\t0001\t0\t0\t0\t00FFFFFF',
      'eth0\t00000000\t0147A8C6\t0003\t0\t0\t0\t00000000',
    ].join('\n')
    assert.equal(defaultGatewayIpv4(routes), '198.168.71.1')
    assert.equal(defaultGatewayIpv4('Iface\tDestination\tGateway\n'), null)
  })
})
