import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NETNS_ETC_DIR } from './constants.ts'
import { LabNotFoundError } from './errors.ts'
import type { LabProcess } from './process.ts'
import { type ExecResult, must, type RunOptions, run } from './run.ts'

/** One interface of a host: a veth whose peer sits on the segment's bridge in the switch namespace. */
export interface HostInterface {
  segment: string
  /** Name inside the host's namespace, e.g. `<prefix>e0`. */
  ifname: string
  /** Name of the peer inside the switch namespace, e.g. `<prefix>p3`. */
  peer: string
  address: string
  /** Prefix length of the segment, e.g. 24. */
  prefixLength: number
  /** The IPv6 address, when the segment has an IPv6 prefix (same host number as `address`). */
  address6?: string
  up: boolean
}

export interface SpawnOptions {
  /** @default `<logDir>/<host>-<n>.log` */
  logFile?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Keep stdin open as a pipe (`handle.child.stdin`). @default false (stdin is /dev/null) */
  stdin?: boolean
}

export interface PingOptions {
  /** @default 1 */
  count?: number
  /** Seconds to wait for each reply. @default 1 */
  waitSeconds?: number
}

/** What a Host needs from its Lab (implemented by Lab). */
export interface HostContext {
  readonly execTimeoutMs: number
  checkOpen(): void
  attach(host: Host, segment: string, address?: string): Promise<HostInterface>
  spawn(host: Host, cmd: string, args: readonly string[], opts: SpawnOptions): LabProcess
}

/**
 * A home router's filter table body, either family: replies come in, the LAN goes out, and
 * unsolicited inbound — to the router itself (INPUT) or through it (FORWARD) — is refused. A
 * rejecting router answers a SYN with a RST, as the kernel does for a closed port, and anything
 * else with `unreachable`; a dropping one drops at INPUT and leaves FORWARD to its DROP policy
 * (rules a port mapping appends to FORWARD must still be reached).
 */
function statefulFilter(o: {
  wanIf: string
  lanIf: string
  reject: boolean
  unreachable: string
  /** INPUT rules the family needs before the refusal (IPv6: ICMPv6 for neighbour discovery). */
  inputAllow?: string[]
}): string[] {
  const refuse = (chain: string, match: string): string[] =>
    o.reject
      ? [
          `-A ${chain} ${match} -p tcp -j REJECT --reject-with tcp-reset`,
          `-A ${chain} ${match} -j REJECT --reject-with ${o.unreachable}`,
        ]
      : chain === 'INPUT'
        ? [`-A ${chain} ${match} -j DROP`]
        : []
  return [
    `-A INPUT -i ${o.wanIf} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    ...(o.inputAllow ?? []),
    ...refuse('INPUT', `-i ${o.wanIf}`),
    `-A FORWARD -i ${o.lanIf} -o ${o.wanIf} -j ACCEPT`,
    `-A FORWARD -i ${o.wanIf} -o ${o.lanIf} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    ...refuse('FORWARD', `-i ${o.wanIf} -o ${o.lanIf}`),
  ]
}

/** A machine in the lab: its own network namespace with interfaces on one or more segments. */
export class Host {
  readonly name: string
  /** Network namespace name: `<prefix>-<name>`. */
  readonly namespace: string
  readonly kind: 'host' | 'router' = 'host'
  readonly interfaces: HostInterface[] = []
  /** Default gateway address, when the host sits on a NAT router's LAN. */
  gateway: { address: string; ifname: string } | undefined
  protected readonly ctx: HostContext

  constructor(ctx: HostContext, name: string, namespace: string) {
    this.ctx = ctx
    this.name = name
    this.namespace = namespace
  }

  /** The host's address on `segment` (default: its first interface). */
  address(segment?: string): string {
    return this.iface(segment).address
  }

  /** The host's IPv6 address on `segment` (default: its first interface). Throws LabNotFoundError. */
  address6(segment?: string): string {
    const a = this.iface(segment).address6
    if (a === undefined)
      throw new LabNotFoundError(`${this.name} has no IPv6 address${segment ? ` on segment ${segment}` : ''}`)
    return a
  }

  /** The interface on `segment` (default: the first). Throws LabNotFoundError. */
  iface(segment?: string): HostInterface {
    const i = segment === undefined ? this.interfaces[0] : this.interfaces.find((x) => x.segment === segment)
    if (!i)
      throw new LabNotFoundError(`${this.name} has no interface${segment ? ` on segment ${segment}` : ''}`)
    return i
  }

  /** Adds an interface on another segment (address auto-assigned when omitted). */
  async attach(segment: string, address?: string): Promise<HostInterface> {
    this.ctx.checkOpen()
    return this.ctx.attach(this, segment, address)
  }

  /** Runs `cmd args` inside the namespace; resolves with exit code and output whatever the exit code. */
  async exec(cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<ExecResult> {
    this.ctx.checkOpen()
    return run('ip', ['netns', 'exec', this.namespace, cmd, ...args], {
      ...opts,
      timeoutMs: opts.timeoutMs ?? this.ctx.execTimeoutMs,
    })
  }

  /** Starts a long-running process inside the namespace; the lab kills it at teardown. */
  spawn(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): LabProcess {
    this.ctx.checkOpen()
    return this.ctx.spawn(this, cmd, args, opts)
  }

  /** Sends `signal` to a process (a pid or a handle from spawn()); false when it is already gone. */
  kill(target: number | LabProcess, signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (typeof target !== 'number') return target.kill(signal)
    try {
      process.kill(target, signal)
      return true
    } catch {
      return false
    }
  }

  /** True when one ICMP echo (of `count`) to `address` is answered. */
  async ping(address: string, opts: PingOptions = {}): Promise<boolean> {
    const count = String(opts.count ?? 1)
    const wait = String(opts.waitSeconds ?? 1)
    const r = await this.exec('ping', ['-n', '-q', '-c', count, '-W', wait, address])
    return r.code === 0
  }

  /** Takes the interface on `segment` (default: all) down: the cable is pulled. */
  async linkDown(segment?: string): Promise<void> {
    this.ctx.checkOpen()
    for (const i of this.selected(segment)) {
      await must('ip', ['-n', this.namespace, 'link', 'set', i.ifname, 'down'])
      i.up = false
    }
  }

  /** Brings the interface on `segment` (default: all) back up and restores the default route. */
  async linkUp(segment?: string): Promise<void> {
    this.ctx.checkOpen()
    for (const i of this.selected(segment)) {
      await must('ip', ['-n', this.namespace, 'link', 'set', i.ifname, 'up'])
      i.up = true
      if (this.gateway?.ifname === i.ifname) await this.applyGateway()
    }
  }

  /** Replaces this namespace's resolv.conf (what `ip netns exec` mounts over /etc/resolv.conf). */
  setResolvConf(text: string): void {
    this.ctx.checkOpen()
    writeResolvConf(this.namespace, text)
  }

  /** Internal: sets the default route via `gateway`. */
  async setGateway(address: string, ifname: string): Promise<void> {
    this.gateway = { address, ifname }
    await this.applyGateway()
  }

  private async applyGateway(): Promise<void> {
    if (!this.gateway) return
    const { address, ifname } = this.gateway
    await must('ip', ['-n', this.namespace, 'route', 'replace', 'default', 'via', address, 'dev', ifname])
  }

  private selected(segment?: string): HostInterface[] {
    return segment === undefined ? this.interfaces : [this.iface(segment)]
  }
}

export interface PortForward {
  protocol: 'tcp' | 'udp'
  wanPort: number
  to: string
  toPort: number
}

/**
 * What a router does with unsolicited inbound from the WAN: 'drop' it silently (a firewall with a
 * DROP policy), or 'reject' it as a router without INPUT rules or OpenWRT's `wan` zone does (a TCP
 * RST for TCP, ICMP port unreachable for the rest).
 */
export type NatFilter = 'drop' | 'reject'

/**
 * IPv6 from the WAN into a router's LAN (routed, never NATed): a stateful firewall that drops or
 * rejects what is not a reply, as home routers do, or 'open' (a carrier routing prefixes).
 */
export type Firewall6 = NatFilter | 'open'

/** A NAT router: WAN on one segment, LAN on another, MASQUERADE out, nothing unsolicited in. */
export class NatRouter extends Host {
  override readonly kind: 'host' | 'router' = 'router'
  readonly wan: string
  readonly lan: string
  /** MASQUERADE --random-fully: a new random source port per flow (endpoint-dependent mapping). */
  readonly symmetric: boolean
  /** Unsolicited inbound: dropped, or answered with a RST / ICMP port unreachable. */
  readonly filter: NatFilter
  /** IPv6 into the LAN: stateful drop or reject, or open (only when both segments have IPv6). */
  readonly firewall6: Firewall6
  readonly forwards: PortForward[] = []

  constructor(
    ctx: HostContext,
    name: string,
    namespace: string,
    wan: string,
    lan: string,
    symmetric: boolean,
    filter: NatFilter = 'drop',
    firewall6: Firewall6 = filter,
  ) {
    super(ctx, name, namespace)
    this.wan = wan
    this.lan = lan
    this.symmetric = symmetric
    this.filter = filter
    this.firewall6 = firewall6
  }

  get wanAddress(): string {
    return this.address(this.wan)
  }

  get lanAddress(): string {
    return this.address(this.lan)
  }

  /** Internal: installs forwarding and the NAT/filter rules (and IPv6's, with `ipv6`). */
  async configure(ipv6 = false): Promise<void> {
    if (ipv6) await this.configureIpv6()
    const wanIf = this.iface(this.wan).ifname
    const lanIf = this.iface(this.lan).ifname
    await must('ip', ['netns', 'exec', this.namespace, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const rules = [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      `-A POSTROUTING -o ${wanIf} -j MASQUERADE${this.symmetric ? ' --random-fully' : ''}`,
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD DROP [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ...statefulFilter({
        wanIf,
        lanIf,
        reject: this.filter === 'reject',
        unreachable: 'icmp-port-unreachable',
      }),
      'COMMIT',
      '',
    ].join('\n')
    await must('ip', ['netns', 'exec', this.namespace, 'iptables-restore'], { input: rules })
  }

  /**
   * IPv6: forwarding without NAT, and the stateful firewall a home router runs (replies in, the
   * rest dropped or rejected), or none ('open'). ICMPv6 to the router itself passes: neighbour
   * discovery needs it.
   */
  private async configureIpv6(): Promise<void> {
    const wanIf = this.iface(this.wan).ifname
    const lanIf = this.iface(this.lan).ifname
    await must('ip', ['netns', 'exec', this.namespace, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'])
    const open = this.firewall6 === 'open'
    const rules = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      `:FORWARD ${open ? 'ACCEPT' : 'DROP'} [0:0]`,
      ':OUTPUT ACCEPT [0:0]',
      ...(open
        ? []
        : statefulFilter({
            wanIf,
            lanIf,
            reject: this.firewall6 === 'reject',
            unreachable: 'icmp6-port-unreachable',
            inputAllow: [`-A INPUT -i ${wanIf} -p ipv6-icmp -j ACCEPT`],
          })),
      'COMMIT',
      '',
    ].join('\n')
    await must('ip', ['netns', 'exec', this.namespace, 'ip6tables-restore'], { input: rules })
  }

  /** The IPv6 rules as `ip6tables-save` prints them (for tests and debugging). */
  async rules6(): Promise<string> {
    return must('ip', ['netns', 'exec', this.namespace, 'ip6tables-save'])
  }

  /** Forwards `wanPort` on the WAN address to `to:toPort` on the LAN (a static port mapping). */
  async forwardPort(protocol: 'tcp' | 'udp', wanPort: number, to: string, toPort = wanPort): Promise<void> {
    this.ctx.checkOpen()
    const wanIf = this.iface(this.wan).ifname
    const lanIf = this.iface(this.lan).ifname
    const ipt = (args: string[]) => must('ip', ['netns', 'exec', this.namespace, 'iptables', ...args])
    await ipt(
      ['-t', 'nat', '-A', 'PREROUTING', '-i', wanIf, '-p', protocol, '--dport', String(wanPort)].concat([
        '-j',
        'DNAT',
        '--to-destination',
        `${to}:${toPort}`,
      ]),
    )
    // inserted first: a rejecting router's last FORWARD rules refuse everything else
    await ipt([
      '-I',
      'FORWARD',
      '-i',
      wanIf,
      '-o',
      lanIf,
      '-p',
      protocol,
      '-d',
      to,
      '--dport',
      String(toPort),
      '-j',
      'ACCEPT',
    ])
    this.forwards.push({ protocol, wanPort, to, toPort })
  }

  /** The rules as `iptables-save` prints them (for tests and debugging). */
  async rules(): Promise<string> {
    return must('ip', ['netns', 'exec', this.namespace, 'iptables-save'])
  }
}

/** Writes /etc/netns/<ns>/resolv.conf so the namespace never reads the machine's own resolver config. */
export function writeResolvConf(namespace: string, text: string): void {
  const dir = join(NETNS_ETC_DIR, namespace)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'resolv.conf'), text.endsWith('\n') ? text : `${text}\n`)
}
