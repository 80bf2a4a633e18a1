/**
 * MagicDNS in the daemon: the resolver on the node's overlay address (port 53, UDP and TCP),
 * answering `name.mesh` from the mesh node, and the host integration that hands `.mesh` to it
 * (systemd-resolved per-link DNS, or a resolv.conf that forwards everything else upstream).
 *
 * Lifecycle: recover() at daemon start (a crashed run's resolv.conf is put back first); start()
 * once the TUN has its address; moved() when the address changes; stop() on `down`, which
 * restores the host's resolver byte for byte.
 */
import { createHostDns, createResolver, type HostDns, type HostDnsMode, type Resolver } from '@meshlan/dns'
import type { Logger, MeshNode } from '@meshlan/mesh'

export interface MagicDnsInit {
  stateDir: string
  ifname: string
  /** host integration; 'off' keeps the resolver but never touches the host. */
  hostMode: HostDnsMode
  /** @default '/etc/resolv.conf' */
  resolvConfPath?: string
  log: Logger
}

export interface DnsStatus {
  enabled: boolean
  mode: string
  applied: boolean
  listen: string[]
  upstreams: string[]
  names: Array<{ name: string; fqdn: string; ip: string }>
  counters: Record<string, number> | null
  reason: string | null
}

export class MagicDns {
  private readonly init: MagicDnsInit
  private readonly log: Logger
  private host: HostDns
  private resolver: Resolver | null = null
  private node: MeshNode | null = null
  private ip: string | null = null

  constructor(init: MagicDnsInit) {
    this.init = init
    this.log = init.log
    this.host = createHostDns(
      {
        mode: init.hostMode,
        ifname: init.ifname,
        resolverIp: '0.0.0.0',
        stateDir: init.stateDir,
        resolvConfPath: init.resolvConfPath,
      },
      { log: init.log },
    )
  }

  /** Puts back a resolv.conf a crashed daemon left pointing at a resolver that is gone. */
  async recover(): Promise<void> {
    if (await this.host.recover().catch((err: Error) => this.fail('recover', err))) {
      this.log.info('restored the host resolver a previous run left behind')
    }
  }

  /** (Re)starts the resolver on the node's overlay address and hands `.mesh` to the host. */
  async start(node: MeshNode, ip: string, subnet: string): Promise<void> {
    this.node = node
    if (this.ip === ip && this.resolver != null) return
    await this.stop()
    this.ip = ip
    const resolver = createResolver(
      { listen: [ip], overlayCidr: subnet },
      {
        names: {
          lookupName: (name) => node.nameToIp(name),
          lookupIp: (addr) => node.ipToName(addr),
          selfIp: () => node.address,
          networkName: () => node.status().self.network.name,
        },
        log: this.log,
      },
    )
    try {
      await resolver.start()
    } catch (err) {
      this.fail('resolver start', err as Error)
      return
    }
    this.resolver = resolver
    const host = createHostDns(
      {
        mode: this.init.hostMode,
        ifname: this.init.ifname,
        resolverIp: ip,
        stateDir: this.init.stateDir,
        resolvConfPath: this.init.resolvConfPath,
        overlayCidr: subnet,
      },
      { log: this.log },
    )
    try {
      await host.apply()
      resolver.setUpstreams(host.upstreams)
      this.host = host
      this.log.info('magic dns', {
        listen: ip,
        mode: host.status().mode,
        upstreams: host.upstreams.join(','),
      })
    } catch (err) {
      this.fail('host integration', err as Error)
    }
  }

  /** Restores the host resolver and stops answering. */
  async stop(): Promise<void> {
    await this.host.restore().catch((err: Error) => this.fail('restore', err))
    const r = this.resolver
    this.resolver = null
    this.ip = null
    if (r != null) await r.stop().catch(() => {})
  }

  status(): DnsStatus {
    const h = this.host.status()
    const net = this.node?.status().self.network.name ?? null
    return {
      enabled: true,
      mode: h.mode ?? h.requested,
      applied: h.applied,
      listen: this.resolver?.addresses().map((a) => `${a.address}:${a.udpPort ?? a.tcpPort}`) ?? [],
      upstreams: this.resolver?.upstreams() ?? [],
      names: (this.node?.names() ?? []).map((n) => ({
        name: n.name,
        fqdn: net == null ? `${n.name}.mesh` : `${n.name}.mesh, ${n.name}.${net}.mesh`,
        ip: n.ip,
      })),
      counters: (this.resolver?.counters() as unknown as Record<string, number>) ?? null,
      reason: h.reason ?? null,
    }
  }

  private fail(what: string, err: Error): false {
    this.log.warn(`magic dns: ${what} failed`, { error: err.message })
    return false
  }
}
