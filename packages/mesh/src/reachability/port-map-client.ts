/**
 * The one place that knows `@achingbrain/nat-port-mapper` (UPnP IGD v2 and NAT-PMP): everything
 * else sees `PortMapClient` / `MappingGateway`, so the library can be swapped or upgraded by
 * changing this file and running test/port-map-client.test.ts (the contract, against an in-process
 * IGD and NAT-PMP server).
 *
 * What this file corrects for, as of 4.0.5 (the contract test pins each):
 * - `map()` reports the internal address as the external one when it isn't RFC 1918 (it asks the
 *   gateway only for private hosts): we always ask `externalIp()`;
 * - UPnP rounds a lease up to at least 3600 s (`Math.max(ttl / 1000, 3600)`): we report the lease
 *   the gateway was asked for, not the one we wanted;
 * - NAT-PMP writes `ttl` into the packet as seconds although the option is documented in ms:
 *   we pass seconds there;
 * - its own refresh timers are off (`autoRefresh: false`): port-mapping.ts renews, so the expiry
 *   we show is the one the gateway holds.
 */
import { readFileSync } from 'node:fs'
import { type Gateway, pmpNat, upnpNat } from '@achingbrain/nat-port-mapper'
import { NAT_PMP_TIMEOUT_MS, PORT_MAP_DESCRIPTION, UPNP_MIN_LEASE_MS } from './constants.ts'
import { PortMapRefusedError } from './errors.ts'

export type PortMapProtocol = 'upnp' | 'natpmp'

/** A mapping the gateway granted. */
export interface GrantedMapping {
  externalIp: string
  externalPort: number
  /** The lease the gateway was asked for (ms); the mapping is gone after it unless renewed. */
  lifetimeMs: number
}

/** One router that maps ports for us. */
export interface MappingGateway {
  readonly protocol: PortMapProtocol
  /** The router's address (UPnP: the host of its description URL; NAT-PMP: our default gateway). */
  readonly host: string
  /** Maps `externalPort` (default: the same port) on the router to `internalHost:internalPort`. */
  map(
    internalPort: number,
    internalHost: string,
    lifetimeMs: number,
    signal: AbortSignal,
  ): Promise<GrantedMapping>
  unmap(internalPort: number, signal: AbortSignal): Promise<void>
  /** Closes sockets (never unmaps: call `unmap` first). */
  close(): Promise<void>
}

export interface PortMapClient {
  /** A UPnP IGD found by SSDP, else a NAT-PMP gateway that answers; null when none does in time. */
  findGateway(signal: AbortSignal): Promise<MappingGateway | null>
}

export interface PortMapClientInit {
  /** Our IPv4 default gateway (NAT-PMP's only address). @default from /proc/net/route */
  defaultGateway?: () => string | null
  /** A fixed UPnP description URL instead of SSDP (the contract test). */
  upnpDescription?: URL
  /** NAT-PMP off (the contract test of UPnP alone). @default true */
  natPmp?: boolean
}

export function portMapClient(init: PortMapClientInit = {}): PortMapClient {
  const defaultGateway = init.defaultGateway ?? defaultGatewayIpv4
  return {
    async findGateway(signal) {
      const upnp = await findUpnp(signal, init.upnpDescription).catch(() => null)
      if (upnp != null || init.natPmp === false || signal.aborted) return upnp
      const gw = defaultGateway()
      return gw == null ? null : findPmp(gw, signal)
    },
  }
}

async function findUpnp(signal: AbortSignal, description?: URL): Promise<MappingGateway | null> {
  const client = upnpNat({ autoRefresh: false, description: PORT_MAP_DESCRIPTION })
  if (description != null) return wrap('upnp', await client.getGateway(description, { signal }))
  for await (const gw of client.findGateways({ signal })) {
    if (gw.family === 'IPv4') return wrap('upnp', gw)
    await gw.stop().catch(() => {})
  }
  return null
}

/** NAT-PMP has no discovery: the default gateway either answers "external address" or not. */
async function findPmp(ip: string, signal: AbortSignal): Promise<MappingGateway | null> {
  const gw = pmpNat(ip, { autoRefresh: false, description: PORT_MAP_DESCRIPTION })
  try {
    await gw.externalIp({ signal: AbortSignal.any([signal, AbortSignal.timeout(NAT_PMP_TIMEOUT_MS)]) })
    return wrap('natpmp', gw)
  } catch {
    await gw.stop().catch(() => {})
    return null
  }
}

function wrap(protocol: PortMapProtocol, gw: Gateway): MappingGateway {
  return {
    protocol,
    host: gw.host,
    async map(internalPort, internalHost, lifetimeMs, signal) {
      // see the header: NAT-PMP takes seconds, UPnP ms with a floor of an hour
      const ttl = protocol === 'natpmp' ? Math.ceil(lifetimeMs / 1000) : lifetimeMs
      let granted: { externalPort: number }
      try {
        granted = await gw.map(internalPort, internalHost, { protocol: 'tcp', ttl, signal })
      } catch (err) {
        throw new PortMapRefusedError(protocol, gw.host, internalPort, (err as Error).message)
      }
      const externalIp = await gw.externalIp({ signal })
      return {
        externalIp,
        externalPort: granted.externalPort,
        lifetimeMs: protocol === 'upnp' ? Math.max(lifetimeMs, UPNP_MIN_LEASE_MS) : lifetimeMs,
      }
    },
    async unmap(internalPort, signal) {
      await gw.unmap(internalPort, { signal })
    },
    async close() {
      // Gateway.stop() unmaps what the library remembers, then closes: we unmapped already
      await gw.stop({ signal: AbortSignal.timeout(NAT_PMP_TIMEOUT_MS) }).catch(() => {})
    },
  }
}

/** The IPv4 default route's gateway from /proc/net/route (little-endian hex), or null. */
export function defaultGatewayIpv4(routes = readRoutes()): string | null {
  for (const line of routes.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 3 || f[1] !== '00000000' || f[2] === '00000000') continue
    const n = Number.parseInt(f[2], 16)
    if (!Number.isFinite(n)) continue
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.')
  }
  return null
}

function readRoutes(): string {
  try {
    return readFileSync('/proc/net/route', 'utf8')
  } catch {
    return ''
  }
}
