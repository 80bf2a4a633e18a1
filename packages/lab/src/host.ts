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

/** A NAT router: WAN on one segment, LAN on another, MASQUERADE out, nothing unsolicited in. */
export class NatRouter extends Host {
  override readonly kind: 'host' | 'router' = 'router'
  readonly wan: string
  readonly lan: string
  /** MASQUERADE --random-fully: a new random source port per flow (endpoint-dependent mapping). */
  readonly symmetric: boolean
  readonly forwards: PortForward[] = []

  constructor(
    ctx: HostContext,
    name: string,
    namespace: string,
    wan: string,
    lan: string,
    symmetric: boolean,
  ) {
    super(ctx, name, namespace)
    this.wan = wan
    this.lan = lan
    this.symmetric = symmetric
  }

  get wanAddress(): string {
    return this.address(this.wan)
  }

  get lanAddress(): string {
    return this.address(this.lan)
  }

  /** Internal: installs forwarding and the NAT/filter rules. */
  async configure(): Promise<void> {
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
      `-A INPUT -i ${wanIf} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
      `-A INPUT -i ${wanIf} -j DROP`,
      `-A FORWARD -i ${lanIf} -o ${wanIf} -j ACCEPT`,
      `-A FORWARD -i ${wanIf} -o ${lanIf} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
      'COMMIT',
      '',
    ].join('\n')
    await must('ip', ['netns', 'exec', this.namespace, 'iptables-restore'], { input: rules })
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
    await ipt([
      '-A',
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
