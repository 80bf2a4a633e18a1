/**
 * The host side of subnet routing (issue 9): what the kernel must do so a node can serve as a subnet
 * router and use the routes it accepted.
 *
 * Router: IPv4 forwarding on; source NAT of traffic out of the tunnel into each advertised prefix (so LAN
 * hosts need no route back), unless `snat` is off; the TCP MSS clamped to the path MTU on traffic
 * forwarded through the TUN (so a 1500-byte LAN and the tunnel's smaller MTU never stall a transfer).
 * Client: a kernel route per accepted prefix through the TUN.
 * Exit node: forwarding on and the overlay's traffic to anywhere but the overlay source-NATed.
 * Exit client: a default route through the TUN in a table of our own, looked up by a rule before
 * `main`, with `throw` routes for every underlay address of members (the tunnel never carries
 * itself); with LAN access, a rule before it keeps every non-default route of `main` (the host's
 * own LAN) as it was (`suppress_prefixlength 0`, as Tailscale and wg-quick do). Connections that
 * arrive from outside the tunnel are marked (CONNMARK) and their replies routed by `main`: an inbound
 * dial from a member's new address (or any LAN host) is answered where it came from, not into the
 * tunnel.
 *
 * Everything lives in chains of our own (`MESHLAN-POSTROUTING` in nat, `MESHLAN-FORWARD` in mangle)
 * reached by one jump each, so `clear()` — on `down`, and at start after a crash — removes exactly
 * what we added and nothing else; the routes we add carry `proto 90` so leftovers are found again.
 * The previous `ip_forward` value is restored on clear when we were the ones who turned it on.
 */
import { execFile } from 'node:child_process'

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

export type CommandRunner = (cmd: string, args: string[]) => Promise<CommandResult>

/** Runs a command; never throws (a missing binary is exit code 127). */
export const runCommand: CommandRunner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: ROUTING_COMMAND_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code =
        err == null
          ? 0
          : typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 127
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })

/** A kernel command is given this long: they answer in milliseconds unless something is wrong. */
const ROUTING_COMMAND_TIMEOUT_MS = 5_000
/** Our chains: found and removed again by name after a crash. */
export const NAT_CHAIN = 'MESHLAN-POSTROUTING'
export const MANGLE_CHAIN = 'MESHLAN-FORWARD'
/** Routes we add are tagged with this `proto` (an unused number in rt_protos) so they are ours to remove. */
export const ROUTE_PROTO = '90'
/**
 * The firewall mark of forwarded packets that came out of the tunnel (value/mask for MARK
 * --set-xmark and -m mark): NAT matches it. The top byte, 'M': Tailscale marks in 0xff0000 and
 * wg-quick uses none, so neither collides.
 */
export const FORWARD_MARK = '0x4d000000/0xff000000'
/**
 * The exit client's mark of connections that arrived from outside the tunnel, and of their reply
 * packets (rule EXIT_RULE_REPLY_PRIORITY sends those to `main`). 'N', beside FORWARD_MARK's 'M'.
 */
export const EXIT_REPLY_MARK = '0x4e000000/0xff000000'
/** The exit client's mangle chains: marking inbound connections (PREROUTING), their replies (OUTPUT). */
export const EXIT_IN_CHAIN = 'MESHLAN-EXIT-IN'
export const EXIT_OUT_CHAIN = 'MESHLAN-EXIT-OUT'
/** The exit client's routing table: our default port number, an id nothing else on a host uses. */
export const EXIT_TABLE = '7946'
/**
 * Rule priorities: after `local` (0), before `main` (32766); the LAN-access rule first. Distinct
 * from Tailscale's 5210–5270 so both can coexist on one host.
 */
export const EXIT_RULE_LAN_PRIORITY = '7900'
export const EXIT_RULE_PRIORITY = '7910'
/** Replies to inbound connections: by `main`, before the exit node's table. */
export const EXIT_RULE_REPLY_PRIORITY = '7905'

export class RoutingHostError extends Error {
  readonly code = 'ERR_ROUTING_HOST'
  constructor(what: string, detail: string) {
    super(`${what} failed: ${detail.trim() || 'no output'} (is iptables installed and are we root?)`)
    this.name = 'RoutingHostError'
  }
}

export interface RouterSettings {
  /** Prefixes we serve (approved or not: forwarding is harmless without approval, the pump gates it). */
  advertised: string[]
  /** Source-NAT forwarded traffic into the LAN. @default true */
  snat: boolean
  /** We are an approved exit node: forward and source-NAT the overlay's traffic to anywhere. */
  exit: boolean
}

export interface ExitClientSettings {
  /** Keep the host's own LAN (every non-default route of `main`) off the exit node. */
  allowLan: boolean
  /** Underlay addresses of members: always routed by `main`, never into the tunnel. */
  bypass: readonly string[]
}

export interface RoutingHostInit {
  /** The TUN device name. */
  ifname: string
  /** The overlay subnet (CIDR): the sources we NAT. */
  overlay: string
  run?: CommandRunner
}

export class RoutingHost {
  private readonly init: RoutingHostInit
  private readonly run: CommandRunner
  private overlay: string
  private routes = new Set<string>()
  private router: string | null = null
  private forwardingWas: string | null = null
  private exitClient: { allowLan: boolean } | null = null
  private bypass = new Set<string>()

  constructor(init: RoutingHostInit) {
    this.init = init
    this.run = init.run ?? runCommand
    this.overlay = init.overlay
  }

  /** The overlay subnet (the sources we NAT) once the policy names it; takes effect at the next setRouter. */
  setOverlay(cidr: string): void {
    this.overlay = cidr
  }

  /** Routes and router state as applied now (for status and tests). */
  get state(): { routes: string[]; router: boolean; exitClient: boolean } {
    return {
      routes: [...this.routes].sort(),
      router: this.router != null,
      exitClient: this.exitClient != null,
    }
  }

  /** Makes the kernel routes through the TUN exactly `cidrs` (accepted routes); others we added go. */
  async setRoutes(cidrs: readonly string[]): Promise<void> {
    const want = new Set(cidrs)
    for (const c of [...this.routes]) {
      if (want.has(c)) continue
      await this.run('ip', ['route', 'del', c, 'dev', this.init.ifname, 'proto', ROUTE_PROTO])
      this.routes.delete(c)
    }
    for (const c of want) {
      if (this.routes.has(c)) continue
      const r = await this.run('ip', ['route', 'replace', c, 'dev', this.init.ifname, 'proto', ROUTE_PROTO])
      if (r.code !== 0) throw new RoutingHostError(`ip route replace ${c}`, r.stderr)
      this.routes.add(c)
    }
  }

  /** Serves `advertised` as a router (or stops, with an empty list). Idempotent. */
  async setRouter(s: RouterSettings): Promise<void> {
    const key = JSON.stringify({ a: [...s.advertised].sort(), n: s.snat, e: s.exit, o: this.overlay })
    if (key === this.router) return
    await this.clearRouter()
    if (s.advertised.length === 0 && !s.exit) return
    const fwd = await this.run('sysctl', ['-n', 'net.ipv4.ip_forward'])
    this.forwardingWas = fwd.code === 0 ? fwd.stdout.trim() : null
    if (this.forwardingWas !== '1') await this.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    // Forwarded packets that came out of the tunnel are marked in mangle FORWARD and NATed by the
    // mark, not by source: a member's packet may come from the overlay or from a LAN behind
    // another router (site to site), and either must look local to the LAN here.
    await this.must('iptables', ['-w', '-t', 'mangle', '-N', MANGLE_CHAIN])
    await this.must('iptables', ['-w', '-t', 'mangle', '-A', 'FORWARD', '-j', MANGLE_CHAIN])
    const ipt = (table: string, ...args: string[]) =>
      this.must('iptables', ['-w', '-t', table, '-A', ...args])
    await ipt('mangle', MANGLE_CHAIN, '-i', this.init.ifname, '-j', 'MARK', '--set-xmark', FORWARD_MARK)
    for (const dir of ['-i', '-o']) {
      const syn = ['-p', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN']
      await ipt('mangle', MANGLE_CHAIN, dir, this.init.ifname, ...syn, '-j', 'TCPMSS', '--clamp-mss-to-pmtu')
    }
    await this.must('iptables', ['-w', '-t', 'nat', '-N', NAT_CHAIN])
    await this.must('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', NAT_CHAIN])
    const fromTunnel = ['-m', 'mark', '--mark', FORWARD_MARK]
    if (s.snat) {
      for (const c of s.advertised) await ipt('nat', NAT_CHAIN, ...fromTunnel, '-d', c, '-j', 'MASQUERADE')
    }
    // the internet through us: everything from the tunnel that is not for the overlay
    if (s.exit) await ipt('nat', NAT_CHAIN, ...fromTunnel, '!', '-d', this.overlay, '-j', 'MASQUERADE')
    this.router = key
  }

  /**
   * Sends everything non-local through the TUN to the exit node (null: stop). The default route and
   * the throw routes live in EXIT_TABLE; bypass changes are applied route by route, so the default
   * route is never missing while the exit node stays the same.
   */
  async setExitClient(e: ExitClientSettings | null): Promise<void> {
    if (e == null) return this.clearExitClient()
    if (this.exitClient == null) {
      await this.must('ip', [
        'route',
        'replace',
        'default',
        'dev',
        this.init.ifname,
        'table',
        EXIT_TABLE,
        'proto',
        ROUTE_PROTO,
      ])
      await this.must('ip', ['rule', 'add', 'priority', EXIT_RULE_PRIORITY, 'table', EXIT_TABLE])
      await this.markInboundReplies()
      this.exitClient = { allowLan: false }
    }
    // LAN access on or off: one rule, the default route and the bypass stay as they are
    if (e.allowLan && !this.exitClient.allowLan) {
      await this.must('ip', [
        'rule',
        'add',
        'priority',
        EXIT_RULE_LAN_PRIORITY,
        'table',
        'main',
        'suppress_prefixlength',
        '0',
      ])
    } else if (!e.allowLan && this.exitClient.allowLan) {
      await this.must('ip', ['rule', 'del', 'priority', EXIT_RULE_LAN_PRIORITY])
    }
    this.exitClient.allowLan = e.allowLan
    const want = new Set(e.bypass)
    for (const ip of [...this.bypass]) {
      if (want.has(ip)) continue
      await this.run('ip', ['route', 'del', 'throw', `${ip}/32`, 'table', EXIT_TABLE])
      this.bypass.delete(ip)
    }
    for (const ip of want) await this.throwRoute(ip)
  }

  /**
   * One more underlay address outside the tunnel, now (the node is about to dial it): a no-op
   * unless we use an exit node. The next setExitClient keeps or removes it like any other.
   */
  async addBypass(ip: string): Promise<void> {
    if (this.exitClient != null) await this.throwRoute(ip)
  }

  /** A `throw` route for `ip` in EXIT_TABLE (the lookup falls through to `main`), once. */
  private async throwRoute(ip: string): Promise<void> {
    if (this.bypass.has(ip)) return
    await this.must('ip', [
      'route',
      'replace',
      'throw',
      `${ip}/32`,
      'table',
      EXIT_TABLE,
      'proto',
      ROUTE_PROTO,
    ])
    this.bypass.add(ip)
  }

  /** Removes everything we added (also leftovers of a crashed run): routes, chains, forwarding. */
  async clear(): Promise<void> {
    await this.clearExitClient(true)
    await this.clearRouter(true)
    for (const c of [...this.routes])
      await this.run('ip', ['route', 'del', c, 'dev', this.init.ifname, 'proto', ROUTE_PROTO])
    this.routes.clear()
    await this.run('ip', ['route', 'flush', 'dev', this.init.ifname, 'proto', ROUTE_PROTO])
  }

  private async clearRouter(always = false): Promise<void> {
    if (this.router == null && !always) return
    for (const [table, chain, from] of [
      ['nat', NAT_CHAIN, 'POSTROUTING'],
      ['mangle', MANGLE_CHAIN, 'FORWARD'],
    ] as const) {
      // the jump may be there more than once after a crash: remove until it is gone
      for (let i = 0; i < 8; i++) {
        if ((await this.run('iptables', ['-w', '-t', table, '-D', from, '-j', chain])).code !== 0) break
      }
      await this.run('iptables', ['-w', '-t', table, '-F', chain])
      await this.run('iptables', ['-w', '-t', table, '-X', chain])
    }
    if (this.router != null && this.forwardingWas != null && this.forwardingWas !== '1') {
      await this.run('sysctl', ['-qw', `net.ipv4.ip_forward=${this.forwardingWas}`])
    }
    this.router = null
    this.forwardingWas = null
  }

  /**
   * A connection that starts outside the tunnel (the underlay, the LAN) gets EXIT_REPLY_MARK; our
   * packets of it get the mark too (mangle OUTPUT: the kernel routes a packet again when its mark
   * changes there), and the mark's rule sends them by `main`.
   */
  private async markInboundReplies(): Promise<void> {
    const ipt = (...args: string[]) => this.must('iptables', ['-w', '-t', 'mangle', ...args])
    await ipt('-N', EXIT_IN_CHAIN)
    await ipt('-A', 'PREROUTING', '-j', EXIT_IN_CHAIN)
    const inbound = ['!', '-i', this.init.ifname, '-m', 'conntrack', '--ctstate', 'NEW']
    await ipt('-A', EXIT_IN_CHAIN, ...inbound, '-j', 'CONNMARK', '--set-xmark', EXIT_REPLY_MARK)
    await ipt('-N', EXIT_OUT_CHAIN)
    await ipt('-A', 'OUTPUT', '-j', EXIT_OUT_CHAIN)
    await ipt(
      '-A',
      EXIT_OUT_CHAIN,
      '-m',
      'connmark',
      '--mark',
      EXIT_REPLY_MARK,
      '-j',
      'MARK',
      '--set-xmark',
      EXIT_REPLY_MARK,
    )
    await this.must('ip', [
      'rule',
      'add',
      'priority',
      EXIT_RULE_REPLY_PRIORITY,
      'fwmark',
      EXIT_REPLY_MARK,
      'table',
      'main',
    ])
  }

  private async clearExitClient(always = false): Promise<void> {
    if (this.exitClient == null && !always) return
    for (const [chain, from] of [
      [EXIT_IN_CHAIN, 'PREROUTING'],
      [EXIT_OUT_CHAIN, 'OUTPUT'],
    ] as const) {
      for (let i = 0; i < 8; i++) {
        if ((await this.run('iptables', ['-w', '-t', 'mangle', '-D', from, '-j', chain])).code !== 0) break
      }
      await this.run('iptables', ['-w', '-t', 'mangle', '-F', chain])
      await this.run('iptables', ['-w', '-t', 'mangle', '-X', chain])
    }
    for (const prio of [EXIT_RULE_PRIORITY, EXIT_RULE_LAN_PRIORITY, EXIT_RULE_REPLY_PRIORITY]) {
      // after a crash a rule may be there more than once: remove until it is gone
      for (let i = 0; i < 8; i++) {
        if ((await this.run('ip', ['rule', 'del', 'priority', prio])).code !== 0) break
      }
    }
    await this.run('ip', ['route', 'flush', 'table', EXIT_TABLE])
    this.exitClient = null
    this.bypass.clear()
  }

  private async must(cmd: string, args: string[]): Promise<void> {
    const r = await this.run(cmd, args)
    if (r.code !== 0) throw new RoutingHostError(`${cmd} ${args.join(' ')}`, r.stderr)
  }
}
