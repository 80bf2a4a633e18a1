/**
 * A lab NAT router that speaks UPnP IGD v2 and NAT-PMP: Debian's `miniupnpd` (the
 * `miniupnpd-nftables` binary, no init script or service: scripts/lib/toolchain.sh installs it)
 * run inside the router's namespace only, with its own config in the lab's log directory,
 * `ext_ifname` the router's WAN, listening (HTTP, SSDP multicast, NAT-PMP) on its LAN only. Its
 * nftables chains live in that namespace and go with it at teardown, like the process (tracked
 * by the lab, killed at teardown, also after a failure).
 *
 * miniupnpd refuses a reserved WAN address (RFC 1918, 100.64/10, 198.18/15, the TEST-NETs: "port
 * forwarding is impossible"), so a router running it needs a WAN segment in ordinary unicast
 * space; lab namespaces have no route out, so nothing leaves the machine.
 */

import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LabCommandError } from './errors.ts'
import type { NatRouter } from './host.ts'
import type { LabProcess } from './process.ts'

/** miniupnpd prints this once its HTTP (UPnP) side listens; NAT-PMP is up before it. */
const READY = /HTTP listening on port \d+/
/** Start-up: reading the config and opening three sockets, a few ms; 15 s on a loaded machine. */
const READY_TIMEOUT_MS = 15_000

export interface MiniupnpdInit {
  /** The lab's log directory (config and lease file go in a subdirectory). */
  dir: string
  /** The LAN's CIDR: only its hosts may map, only ports ≥ 1024. */
  lanCidr: string
}

export interface Miniupnpd {
  process: LabProcess
  /** The lease file: one line per live mapping (`TCP:7946:198.18.71.10:7946:…`). */
  leaseFile: string
  config: string
}

/**
 * The chains miniupnpd 2.3.1 adds its rules to (it creates none itself; Debian's nft_init.sh makes
 * the same). Filtering stays with the router's iptables rules (a `ctstate DNAT` accept); these
 * base chains only jump to miniupnpd's and accept everything else.
 */
const NFT_TABLES = `table inet filter {
  chain miniupnpd {
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    jump miniupnpd
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
}
`

/** Starts miniupnpd on `router`; resolves once it listens. */
export async function startMiniupnpd(router: NatRouter, init: MiniupnpdInit): Promise<Miniupnpd> {
  const wanIf = router.iface(router.wan).ifname
  const lanIf = router.iface(router.lan).ifname
  const must = async (cmd: string, args: string[], input?: string) => {
    const r = await router.exec(cmd, args, { input })
    if (r.code !== 0) throw new LabCommandError(`${cmd} ${args.join(' ')}`, r.code, r.stderr)
  }
  await must('nft', ['-f', '-'], NFT_TABLES)
  // the router's FORWARD policy drops; connections miniupnpd DNATs to the LAN are let in (first,
  // before a rejecting router's last rules)
  await must('iptables', [
    '-I',
    'FORWARD',
    '1',
    '-i',
    wanIf,
    '-o',
    lanIf,
    '-m',
    'conntrack',
    '--ctstate',
    'DNAT',
    '-j',
    'ACCEPT',
  ])
  const dir = join(init.dir, `miniupnpd-${router.name}`)
  mkdirSync(dir, { recursive: true })
  const leaseFile = join(dir, 'leases')
  const config = join(dir, 'miniupnpd.conf')
  writeFileSync(
    config,
    [
      `ext_ifname=${wanIf}`,
      `listening_ip=${lanIf}`,
      'http_port=0',
      'enable_upnp=yes',
      'enable_natpmp=yes',
      'secure_mode=yes',
      'system_uptime=yes',
      `uuid=${randomUUID()}`,
      `lease_file=${leaseFile}`,
      'upnp_table_name=filter',
      'upnp_nat_table_name=filter',
      'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      `allow 1024-65535 ${init.lanCidr} 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535',
      '',
    ].join('\n'),
  )
  // -d: stay in the foreground (the lab tracks and kills it), log to stderr; -P: our own pid file
  // (the default /var/run/miniupnpd.pid would make a second lab's miniupnpd exit: "already running")
  const process = router.spawn('miniupnpd', ['-d', '-f', config, '-P', join(dir, 'miniupnpd.pid')])
  await process.waitForOutput(READY, READY_TIMEOUT_MS)
  return { process, leaseFile, config }
}
