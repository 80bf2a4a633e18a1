/**
 * Keeps the host's kernel routing in step with the node: after every recompute the node says what
 * it serves, accepts and uses (HostRouting); the host settings (`snat`, LAN access with an exit
 * node) come from config.toml and `meshlan set`. Changes are applied one at a time, in order; an
 * unchanged state is not applied again.
 */
import type { HostRouting, Logger } from '@meshlan/mesh'
import { ipToUint32 } from '@meshlan/wire'
import type { RoutingHost } from './routing-host.ts'

export interface RoutingSyncSettings {
  /** Source-NAT traffic forwarded into advertised prefixes. */
  snat: boolean
  /** With an exit node in use, keep the host's own LAN reachable directly. */
  allowLan: boolean
}

export class RoutingSync {
  private readonly host: RoutingHost
  private readonly log: Logger
  private settings: RoutingSyncSettings
  private last: { routing: HostRouting; subnet: string } | null = null
  private applied = ''
  private work: Promise<void> = Promise.resolve()

  private readonly dnsUpstreams: () => readonly string[]

  /**
   * `dnsUpstreams`: the resolvers MagicDNS forwards other names to. With an exit node they stay on
   * the host's routes like the underlay (a LAN resolver keeps answering with LAN access off).
   */
  constructor(
    host: RoutingHost,
    log: Logger,
    settings: RoutingSyncSettings,
    dnsUpstreams: () => readonly string[] = () => [],
  ) {
    this.host = host
    this.log = log
    this.settings = settings
    this.dnsUpstreams = dnsUpstreams
  }

  /** The node's newest routing state (subnet: the overlay, null while unknown). */
  apply(routing: HostRouting, subnet: string | null): void {
    if (subnet == null) return
    this.last = { routing, subnet }
    this.schedule()
  }

  /** New host settings: applied at once to the current state. */
  setSettings(settings: RoutingSyncSettings): void {
    this.settings = settings
    this.schedule()
  }

  /**
   * The node is about to dial `ip` on the underlay: with an exit node in use its `throw` route goes
   * in first (after whatever is being applied), so the dial does not enter the tunnel.
   */
  bypassNow(ip: string): Promise<void> {
    const done = this.work.then(() => this.host.addBypass(ip))
    this.work = done.catch(() => {})
    return done
  }

  /** Waits for what was scheduled so far. */
  settled(): Promise<void> {
    return this.work
  }

  /** Removes everything the host added; call after the node stopped. */
  async clear(): Promise<void> {
    this.last = null
    await this.work
    this.applied = ''
    await this.host.clear().catch(() => {})
  }

  private schedule(): void {
    const last = this.last
    if (last == null) return
    const key = JSON.stringify([last, this.settings])
    if (key === this.applied) return
    this.applied = key
    const { routing: r, subnet } = last
    const s = this.settings
    const bypass = [...new Set([...r.bypass, ...ipv4Only(this.dnsUpstreams())])].sort()
    this.work = this.work
      .then(async () => {
        this.host.setOverlay(subnet)
        await this.host.setRouter({ advertised: r.served, snat: s.snat, exit: r.exitServed })
        await this.host.setRoutes(r.accepted)
        await this.host.setExitClient(r.exit == null ? null : { allowLan: s.allowLan, bypass })
        this.log.info('routing', {
          served: r.served.join(',') || null,
          exitServed: r.exitServed,
          accepted: r.accepted.join(',') || null,
          exitNode: r.exit?.name ?? null,
          bypass: r.exit == null ? 0 : bypass.length,
        })
      })
      .catch((err: Error) => {
        this.applied = '' // try again with the next state
        this.log.warn('applying routes failed', { error: err.message })
      })
  }
}

/** The IPv4 addresses among resolver addresses (`1.2.3.4`, `1.2.3.4:53`); others are ignored. */
function ipv4Only(list: readonly string[]): string[] {
  return list.map((a) => a.replace(/:\d+$/, '')).filter((a) => ipToUint32(a) >= 0)
}
