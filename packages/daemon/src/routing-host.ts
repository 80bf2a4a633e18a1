/**
 * The host side of subnet routing (issue 9): what the kernel must do so a node can serve as a subnet
 * router and use the routes it accepted.
 *
 * Router: IPv4 forwarding on; source NAT from the overlay subnet into each advertised prefix (so LAN
 * hosts need no route back), unless `snat` is off; the TCP MSS clamped to the path MTU on traffic
 * forwarded through the TUN (so a 1500-byte LAN and the tunnel's smaller MTU never stall a transfer).
 * Client: a kernel route per accepted prefix through the TUN.
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
  get state(): { routes: string[]; router: boolean } {
    return { routes: [...this.routes].sort(), router: this.router != null }
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
    const key = JSON.stringify({ a: [...s.advertised].sort(), n: s.snat, o: this.overlay })
    if (key === this.router) return
    await this.clearRouter()
    if (s.advertised.length === 0) return
    const fwd = await this.run('sysctl', ['-n', 'net.ipv4.ip_forward'])
    this.forwardingWas = fwd.code === 0 ? fwd.stdout.trim() : null
    if (this.forwardingWas !== '1') await this.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    await this.must('iptables', ['-w', '-t', 'nat', '-N', NAT_CHAIN])
    await this.must('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', NAT_CHAIN])
    if (s.snat) {
      for (const c of s.advertised) {
        await this.must('iptables', [
          '-w',
          '-t',
          'nat',
          '-A',
          NAT_CHAIN,
          '-s',
          this.init.overlay,
          '-d',
          c,
          '-j',
          'MASQUERADE',
        ])
      }
    }
    await this.must('iptables', ['-w', '-t', 'mangle', '-N', MANGLE_CHAIN])
    await this.must('iptables', ['-w', '-t', 'mangle', '-A', 'FORWARD', '-j', MANGLE_CHAIN])
    for (const dir of ['-i', '-o']) {
      await this.must('iptables', [
        '-w',
        '-t',
        'mangle',
        '-A',
        MANGLE_CHAIN,
        dir,
        this.init.ifname,
        '-p',
        'tcp',
        '--tcp-flags',
        'SYN,RST',
        'SYN',
        '-j',
        'TCPMSS',
        '--clamp-mss-to-pmtu',
      ])
    }
    this.router = key
  }

  /** Removes everything we added (also leftovers of a crashed run): routes, chains, forwarding. */
  async clear(): Promise<void> {
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

  private async must(cmd: string, args: string[]): Promise<void> {
    const r = await this.run(cmd, args)
    if (r.code !== 0) throw new RoutingHostError(`${cmd} ${args.join(' ')}`, r.stderr)
  }
}
