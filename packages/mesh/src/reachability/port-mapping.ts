/**
 * Port mapping (`[nat] port_mapping`, on by default): asks the home router, by UPnP IGD or NAT-PMP
 * (port-map-client.ts), to forward our listening port, so members outside dial us directly — no
 * relay, no hole punching — and relay = "auto" can confirm us (a dial-back reaches the mapped
 * address, which we announce). The lease is renewed at half its life and removed on stop.
 *
 * Never in the way: discovery runs in the background with a bound (PORT_MAP_DISCOVER_TIMEOUT_MS),
 * every request has a timeout, and a router without UPnP only means no mapping (looked for again
 * every PORT_MAP_REDISCOVER_MS). Pure state plus timers; the reachability service announces.
 */
import { ipToUint32, parseCidr } from '@meshlan/wire'
import type { Logger } from '../logger.ts'
import { hostInterfaces } from '../overlay.ts'
import {
  PORT_MAP_DISCOVER_TIMEOUT_MS,
  PORT_MAP_LIFETIME_MS,
  PORT_MAP_REDISCOVER_MS,
  PORT_MAP_RENEW_AT_FRACTION,
  PORT_MAP_REQUEST_TIMEOUT_MS,
  PORT_MAP_RETRY_MS,
  PORT_UNMAP_TIMEOUT_MS,
} from './constants.ts'
import type { MappingGateway, PortMapClient, PortMapProtocol } from './port-map-client.ts'

/** What `meshlan netcheck --json` shows as `portMapping.mapping`. */
export interface PortMappingStatus {
  protocol: PortMapProtocol
  /** The router that maps (its LAN address). */
  gateway: string
  /** `/ip4/<our LAN ip>/tcp/<listen port>` */
  internal: string
  /** `/ip4/<router's public ip>/tcp/<port>`: announced in our record. */
  external: string
  mappedAt: number
  /** When the router drops it unless renewed (ms since epoch). */
  expiresAt: number
  renewedAt: number | null
  renewals: number
}

/** `netcheck`'s view: enabled, the mapping if any, and what went wrong last. */
export interface PortMappingView {
  enabled: boolean
  mapping: PortMappingStatus | null
  /** "searching", "no UPnP IGD or NAT-PMP gateway answered within 3 s", a refusal … */
  state: string
}

export interface PortMapperInit {
  client: PortMapClient
  log: Logger
  listenPort(): number | null
  /** Our address on the gateway's subnet (the mapping's target). @default from our interfaces */
  localIpFor?(gatewayIp: string): string | null
  /** The mapping appeared, changed or went: announce. */
  onChange(): void
  /** @default PORT_MAP_LIFETIME_MS */
  lifetimeMs?: number
  /** @default PORT_MAP_RETRY_MS */
  retryMs?: number
  /** @default PORT_MAP_REDISCOVER_MS */
  rediscoverMs?: number
  /** @default PORT_MAP_DISCOVER_TIMEOUT_MS */
  discoverTimeoutMs?: number
}

export class PortMapper {
  private readonly init: PortMapperInit
  private gateway: MappingGateway | null = null
  private mapping: PortMappingStatus | null = null
  private state = 'not started'
  private timer: NodeJS.Timeout | null = null
  private running = false
  /** The cycle in flight (stop waits for it, so a late grant is removed too). */
  private busy: Promise<void> = Promise.resolve()

  constructor(init: PortMapperInit) {
    this.init = init
  }

  /** Starts looking for a gateway in the background; returns at once. */
  start(): void {
    if (this.running) return
    this.running = true
    this.state = 'searching for a UPnP IGD or NAT-PMP gateway'
    this.schedule(0)
  }

  /** Removes the mapping (bounded by PORT_UNMAP_TIMEOUT_MS) and closes the gateway. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = null
    await this.busy
    const gw = this.gateway
    const m = this.mapping
    this.gateway = null
    this.mapping = null
    this.state = 'stopped'
    if (gw == null) return
    if (m != null) {
      const port = Number(m.internal.split('/').pop())
      await gw.unmap(port, AbortSignal.timeout(PORT_UNMAP_TIMEOUT_MS)).then(
        () => this.init.log.info('port mapping removed', { external: m.external, via: m.protocol }),
        (err: Error) => this.init.log.warn('removing the port mapping failed', { error: err.message }),
      )
    }
    await gw.close()
  }

  view(): PortMappingView {
    return { enabled: true, mapping: this.mapping, state: this.state }
  }

  /** The mapped external address to announce (empty without a mapping). */
  externalAddrs(): string[] {
    return this.mapping == null ? [] : [this.mapping.external]
  }

  current(): PortMappingStatus | null {
    return this.mapping
  }

  private schedule(ms: number): void {
    if (!this.running) return
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      this.busy = this.step().catch((err: Error) => {
        this.state = `error: ${err.message}`
        this.schedule(this.init.retryMs ?? PORT_MAP_RETRY_MS)
      })
    }, ms)
    this.timer.unref()
  }

  /** One step: find a gateway, map, or renew — whichever is due. */
  private async step(): Promise<void> {
    const rediscover = this.init.rediscoverMs ?? PORT_MAP_REDISCOVER_MS
    if (this.gateway == null) {
      const t0 = Date.now()
      const timeout = this.init.discoverTimeoutMs ?? PORT_MAP_DISCOVER_TIMEOUT_MS
      const gw = await this.init.client.findGateway(AbortSignal.timeout(timeout))
      if (!this.running) {
        await gw?.close()
        return
      }
      if (gw == null) {
        this.state = `no UPnP IGD or NAT-PMP gateway answered within ${timeout / 1000} s`
        this.init.log.debug('no port-mapping gateway', { ms: Date.now() - t0 })
        this.schedule(rediscover)
        return
      }
      this.gateway = gw
      this.init.log.info('port-mapping gateway found', {
        protocol: gw.protocol,
        gateway: gw.host,
        ms: Date.now() - t0,
      })
    }
    await this.map(this.gateway)
  }

  private async map(gw: MappingGateway): Promise<void> {
    const port = this.init.listenPort()
    const local = (this.init.localIpFor ?? localIpFor)(gw.host)
    if (port == null || local == null) {
      this.state = port == null ? 'no TCP listening port' : `no address of ours on ${gw.host}'s subnet`
      this.schedule(this.init.rediscoverMs ?? PORT_MAP_REDISCOVER_MS)
      return
    }
    const lifetime = this.init.lifetimeMs ?? PORT_MAP_LIFETIME_MS
    const renewing = this.mapping
    const t0 = Date.now()
    let granted: Awaited<ReturnType<MappingGateway['map']>>
    try {
      granted = await gw.map(port, local, lifetime, AbortSignal.timeout(PORT_MAP_REQUEST_TIMEOUT_MS))
    } catch (err) {
      const msg = (err as Error).message
      this.init.log.warn(renewing ? 'renewing the port mapping failed' : 'port mapping failed', {
        error: msg,
      })
      this.state = `${gw.protocol} gateway ${gw.host}: ${msg}`
      const retry = this.init.retryMs ?? PORT_MAP_RETRY_MS
      if (renewing != null && Date.now() + retry < renewing.expiresAt) return this.schedule(retry)
      // expired (or never granted): nothing to announce; look for a gateway again later
      if (renewing != null) {
        this.mapping = null
        this.init.onChange()
      }
      await gw.close()
      this.gateway = null
      this.schedule(renewing != null ? retry : (this.init.rediscoverMs ?? PORT_MAP_REDISCOVER_MS))
      return
    }
    if (!this.running) {
      // stopped meanwhile: stop() waits for us and removes what we hold
      this.mapping = this.toStatus(gw, local, port, granted, t0, renewing)
      return
    }
    const next = this.toStatus(gw, local, port, granted, t0, renewing)
    const changed = renewing?.external !== next.external
    this.mapping = next
    this.state = 'mapped'
    this.init.log[renewing == null || changed ? 'info' : 'debug'](
      renewing == null ? 'port mapped' : 'port mapping renewed',
      {
        protocol: gw.protocol,
        external: next.external,
        lifetimeS: granted.lifetimeMs / 1000,
        ms: Date.now() - t0,
      },
    )
    if (changed) this.init.onChange()
    this.schedule(Math.max(1_000, granted.lifetimeMs * PORT_MAP_RENEW_AT_FRACTION))
  }

  private toStatus(
    gw: MappingGateway,
    local: string,
    port: number,
    g: { externalIp: string; externalPort: number; lifetimeMs: number },
    at: number,
    before: PortMappingStatus | null,
  ): PortMappingStatus {
    return {
      protocol: gw.protocol,
      gateway: gw.host,
      internal: `/ip4/${local}/tcp/${port}`,
      external: `/ip4/${g.externalIp}/tcp/${g.externalPort}`,
      mappedAt: before?.mappedAt ?? at,
      expiresAt: at + g.lifetimeMs,
      renewedAt: before == null ? null : at,
      renewals: before == null ? 0 : before.renewals + 1,
    }
  }
}

/** Our IPv4 address on the subnet of `gatewayIp`, or null. */
export function localIpFor(gatewayIp: string): string | null {
  const n = ipToUint32(gatewayIp)
  if (n < 0) return null
  for (const i of hostInterfaces()) {
    if (i.family !== 'IPv4' || i.internal || i.cidr == null) continue
    const c = parseCidr(i.cidr)
    if (c.ok && (n & c.mask) >>> 0 === c.base) return i.address
  }
  return null
}
