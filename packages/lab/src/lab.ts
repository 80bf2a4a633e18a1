import { spawn as spawnChild } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanLab, cleanLabSync } from './cleanup.ts'
import {
  DEFAULT_EXEC_TIMEOUT_MS,
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_LOG_DIR_NAME,
  DEFAULT_NAMESERVER,
  HOST_AUTO_OFFSET,
  ROUTER_LAN_OFFSET,
} from './constants.ts'
import {
  LabAddressError,
  LabClosedError,
  LabNameError,
  LabNotFoundError,
  LabPermissionError,
} from './errors.ts'
import {
  Host,
  type HostContext,
  type HostInterface,
  NatRouter,
  type SpawnOptions,
  writeResolvConf,
} from './host.ts'
import { type Cidr, cidrsOverlap, formatIpv4, inCidr, parseCidr, parseIpv4 } from './ipv4.ts'
import { type Cidr6, cidr6Overlap, hostIpv6, parseCidr6 } from './ipv6.ts'
import { ipv6Routes } from './ipv6-routes.ts'
import type {
  HostInit,
  LabDescription,
  LabInit,
  LabLog,
  NatRouterInit,
  Segment,
  SegmentInit,
} from './lab-types.ts'
import { checkName, checkPrefix, hostNamespace, ifname, switchNamespace } from './names.ts'
import { LabProcess } from './process.ts'
import { registerLab, unregisterLab } from './registry.ts'
import { must, runSync } from './run.ts'

interface SegmentState {
  name: string
  cidr: Cidr
  cidr6: Cidr6 | undefined
  bridge: string
  used: Set<number>
  router: NatRouter | undefined
  members: Host[]
}

/** Throws LabPermissionError unless the process can build labs. */
function checkRoot(): void {
  if (process.getuid?.() !== 0) throw new LabPermissionError(`uid ${process.getuid?.()}`)
}

/** Whether labs can run here; `reason` is a ready-made skip message for tests. */
export function canRunLabs(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'labs need Linux network namespaces' }
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'run as root: network namespaces need CAP_SYS_ADMIN (lab tests skipped)' }
  }
  if (!runSync('ip', ['-V']))
    return { ok: false, reason: 'iproute2 `ip` not found (apt-get install iproute2)' }
  if (!runSync('iptables', ['-V']))
    return { ok: false, reason: '`iptables` not found (apt-get install iptables)' }
  return { ok: true }
}

/** A network-namespace lab. Create with createLab(); always call teardown(). */
export class Lab implements HostContext {
  readonly prefix: string
  readonly logDir: string
  readonly execTimeoutMs: number
  readonly switchNamespace: string
  readonly processes: LabProcess[] = []
  #segments = new Map<string, SegmentState>()
  #hosts = new Map<string, Host>()
  #namespaces: string[] = []
  #vethCount = 0
  #bridgeCount = 0
  #logCount = 0
  #closed = false
  #teardown: Promise<void> | undefined
  #handleExit: boolean

  constructor(init: LabInit) {
    this.prefix = init.prefix
    this.logDir = init.logDir ?? join(tmpdir(), `${DEFAULT_LOG_DIR_NAME}${init.prefix}`)
    this.execTimeoutMs = init.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS
    this.switchNamespace = switchNamespace(init.prefix)
    this.#handleExit = init.handleExit ?? true
  }

  get closed(): boolean {
    return this.#closed
  }

  checkOpen(): void {
    if (this.#closed) throw new LabClosedError(this.prefix)
  }

  /** Internal (createLab): cleans leftovers and creates the switch namespace. */
  async init(): Promise<void> {
    if (this.#handleExit) registerLab(this)
    await cleanLab(this.prefix)
    await this.createNamespace(this.switchNamespace)
  }

  private async createNamespace(ns: string): Promise<void> {
    await must('ip', ['netns', 'add', ns])
    this.#namespaces.push(ns)
    writeResolvConf(ns, `# meshlan lab ${ns}\nnameserver ${DEFAULT_NAMESERVER}\n`)
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  }

  /** Adds a segment: a bridge in the switch namespace. */
  async addSegment(name: string, init: SegmentInit): Promise<Segment> {
    this.checkOpen()
    checkName('segment', name)
    if (this.#segments.has(name))
      throw new LabNameError(`segment ${name} already exists in lab ${this.prefix}`)
    const cidr = parseCidr(init.cidr)
    const cidr6 = init.cidr6 === undefined ? undefined : parseCidr6(init.cidr6)
    for (const s of this.#segments.values()) {
      if (cidrsOverlap(s.cidr, cidr)) {
        throw new LabAddressError(
          `segment ${name} (${init.cidr}) overlaps segment ${s.name} (${s.cidr.text})`,
        )
      }
      if (cidr6 && s.cidr6 && cidr6Overlap(s.cidr6, cidr6)) {
        throw new LabAddressError(
          `segment ${name} (${init.cidr6}) overlaps segment ${s.name} (${s.cidr6.text})`,
        )
      }
    }
    const bridge = ifname(this.prefix, 'b', this.#bridgeCount++)
    const state: SegmentState = {
      name,
      cidr,
      cidr6,
      bridge,
      used: new Set(),
      router: undefined,
      members: [],
    }
    this.#segments.set(name, state)
    const sw = this.switchNamespace
    await must('ip', [
      '-n',
      sw,
      'link',
      'add',
      bridge,
      'type',
      'bridge',
      'stp_state',
      '0',
      'forward_delay',
      '0',
    ])
    await must('ip', ['-n', sw, 'link', 'set', bridge, 'addrgenmode', 'none'])
    // IPv6: flood multicast (neighbour solicitations) as a dumb switch does; a snooping bridge
    // forwards a group only to ports it saw join, and lab interfaces join before any querier runs
    if (cidr6) await must('ip', ['-n', sw, 'link', 'set', bridge, 'type', 'bridge', 'mcast_snooping', '0'])
    await must('ip', ['-n', sw, 'link', 'set', bridge, 'up'])
    return this.segmentInfo(state)
  }

  /** Adds a host; with `segment`, attaches it there (default route via the LAN's NAT router, if any). */
  async addHost(name: string, init: HostInit = {}): Promise<Host> {
    this.checkOpen()
    const ns = this.claimName(name)
    const host = new Host(this, name, ns)
    this.#hosts.set(name, host)
    await this.createNamespace(ns)
    await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=0'])
    if (init.segment !== undefined) await this.attach(host, init.segment, init.address)
    return host
  }

  /** Adds a NAT router between `wan` and `lan`; hosts on `lan` route through it. */
  async addNatRouter(name: string, init: NatRouterInit): Promise<NatRouter> {
    this.checkOpen()
    const wan = this.segmentState(init.wan)
    const lan = this.segmentState(init.lan)
    if (wan === lan) throw new LabNameError(`router ${name}: wan and lan must be different segments`)
    if (lan.router) throw new LabNameError(`segment ${lan.name} already has NAT router ${lan.router.name}`)
    const ns = this.claimName(name)
    const router = new NatRouter(
      this,
      name,
      ns,
      wan.name,
      lan.name,
      init.symmetric ?? false,
      init.filter ?? 'drop',
      init.firewall6 ?? init.filter ?? 'drop',
    )
    this.#hosts.set(name, router)
    const lanAddress = init.lanAddress ?? formatIpv4(lan.cidr.network + ROUTER_LAN_OFFSET)
    this.reserve(lan, lanAddress)
    lan.router = router
    await this.createNamespace(ns)
    await this.attach(router, wan.name, init.wanAddress)
    await this.attach(router, lan.name, lanAddress, true)
    await router.configure(wan.cidr6 !== undefined && lan.cidr6 !== undefined)
    for (const h of lan.members) {
      if (h !== router && !h.gateway) await h.setGateway(lanAddress, h.iface(lan.name).ifname)
    }
    return router
  }

  /** Internal: creates the veth pair for `host` on `segment`. */
  async attach(host: Host, segment: string, address?: string, reserved = false): Promise<HostInterface> {
    this.checkOpen()
    const seg = this.segmentState(segment)
    if (host.interfaces.some((i) => i.segment === segment)) {
      throw new LabNameError(`${host.name} is already attached to segment ${segment}`)
    }
    const addr =
      address === undefined ? this.allocate(seg, host.kind === 'router' ? 1 : HOST_AUTO_OFFSET) : address
    if (!reserved) this.reserve(seg, addr)
    const hostIf = ifname(this.prefix, 'e', host.interfaces.length)
    const peer = ifname(this.prefix, 'p', this.#vethCount++)
    const addr6 = seg.cidr6 && hostIpv6(seg.cidr6, (parseIpv4(addr) ?? 0) - seg.cidr.network)
    const iface: HostInterface = {
      segment,
      ifname: hostIf,
      peer,
      address: addr,
      prefixLength: seg.cidr.bits,
      ...(addr6 ? { address6: addr6 } : {}),
      up: true,
    }
    host.interfaces.push(iface)
    seg.members.push(host)
    const sw = this.switchNamespace
    const ns = host.namespace
    // Both ends are created directly inside lab namespaces: nothing ever appears in the root namespace.
    await must('ip', ['link', 'add', hostIf, 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', sw])
    await must('ip', ['-n', sw, 'link', 'set', peer, 'addrgenmode', 'none'])
    await must('ip', ['-n', sw, 'link', 'set', peer, 'master', seg.bridge, 'up'])
    await must('ip', ['-n', ns, 'link', 'set', hostIf, 'addrgenmode', 'none'])
    await must('ip', ['-n', ns, 'addr', 'add', `${addr}/${seg.cidr.bits}`, 'dev', hostIf])
    if (addr6) {
      // nodad: usable at once (no other host can hold it: the lab assigns every address). A
      // link-local address too: a router resolves the next hop of a forwarded packet only from
      // one (Linux's ndisc_send_ns sends no solicitation without it)
      const ll = `fe80::${((parseIpv4(addr) ?? 0) - seg.cidr.network).toString(16)}/64`
      for (const a of [`${addr6}/${seg.cidr6?.bits}`, ll])
        await must('ip', ['-n', ns, '-6', 'addr', 'add', a, 'dev', hostIf, 'nodad'])
    }
    await must('ip', ['-n', ns, 'link', 'set', hostIf, 'up'])
    if (seg.router && seg.router !== host && !host.gateway) {
      await host.setGateway(seg.router.lanAddress, hostIf)
    }
    return iface
  }

  /**
   * IPv6 routes for every host and router to every IPv6 segment it is not on: via the nearest
   * router (ipv6-routes.ts). No NAT: IPv6 addresses are end to end. Call once the topology is
   * built (again after adding to it); idempotent.
   */
  async routeIpv6(): Promise<void> {
    this.checkOpen()
    const segments = [...this.#segments.values()].flatMap((s) =>
      s.cidr6 === undefined ? [] : [{ name: s.name, cidr6: s.cidr6.text }],
    )
    for (const r of ipv6Routes([...this.#hosts.values()], segments)) {
      await must('ip', ['-n', r.namespace, '-6', 'route', 'replace', r.to, 'via', r.via, 'dev', r.dev])
    }
  }

  /** Internal: starts a tracked process inside `host`'s namespace. */
  spawn(host: Host, cmd: string, args: readonly string[], opts: SpawnOptions): LabProcess {
    mkdirSync(this.logDir, { recursive: true })
    const logFile = opts.logFile ?? join(this.logDir, `${host.name}-${this.#logCount++}.log`)
    const log = createWriteStream(logFile)
    const child = spawnChild('ip', ['netns', 'exec', host.namespace, cmd, ...args], {
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: opts.env,
      cwd: opts.cwd,
    })
    const p = new LabProcess(host.name, cmd, args, logFile, child, log)
    this.processes.push(p)
    return p
  }

  /** The host or router called `name`. Throws LabNotFoundError. */
  host(name: string): Host {
    const h = this.#hosts.get(name)
    if (!h) throw new LabNotFoundError(`lab ${this.prefix} has no host ${name}`)
    return h
  }

  /** The NAT router called `name`. Throws LabNotFoundError. */
  router(name: string): NatRouter {
    const h = this.#hosts.get(name)
    if (!(h instanceof NatRouter)) throw new LabNotFoundError(`lab ${this.prefix} has no NAT router ${name}`)
    return h
  }

  segment(name: string): Segment {
    return this.segmentInfo(this.segmentState(name))
  }

  get hosts(): Host[] {
    return [...this.#hosts.values()]
  }

  /** The topology: segments, hosts, routers, addresses (JSON-friendly). */
  describe(): LabDescription {
    return {
      prefix: this.prefix,
      switchNamespace: this.switchNamespace,
      segments: [...this.#segments.values()].map((s) => this.segmentInfo(s)),
      hosts: this.hosts.map((h) => ({
        name: h.name,
        kind: h.kind,
        namespace: h.namespace,
        ...(h.gateway ? { gateway: h.gateway.address } : {}),
        ...(h instanceof NatRouter
          ? { wan: h.wan, lan: h.lan, symmetric: h.symmetric, filter: h.filter }
          : {}),
        interfaces: h.interfaces.map((i) => ({
          segment: i.segment,
          ifname: i.ifname,
          address: `${i.address}/${i.prefixLength}`,
          ...(i.address6 !== undefined ? { address6: i.address6 } : {}),
          up: i.up,
        })),
      })),
    }
  }

  /** Output of every process the lab started, read back from the log files. */
  async collectLogs(): Promise<LabLog[]> {
    return Promise.all(
      this.processes.map(async (p) => ({
        host: p.host,
        command: [p.command, ...p.args].join(' '),
        pid: p.pid,
        logFile: p.logFile,
        exit: p.exit,
        text: await readFile(p.logFile, 'utf8').catch(() => p.output()),
      })),
    )
  }

  /**
   * Kills every process the lab started (SIGTERM, then SIGKILL after DEFAULT_KILL_GRACE_MS) and any
   * left in its namespaces, deletes the namespaces (and with them every veth, bridge and TUN inside)
   * and /etc/netns/<ns>. Idempotent.
   */
  teardown(): Promise<void> {
    if (!this.#teardown) {
      this.#closed = true
      this.#teardown = (async () => {
        const running = this.processes.filter((p) => p.running)
        for (const p of running) p.kill('SIGTERM')
        const grace = new Promise((r) => setTimeout(r, DEFAULT_KILL_GRACE_MS).unref())
        await Promise.race([Promise.all(running.map((p) => p.exited)), grace])
        for (const p of running) p.kill('SIGKILL')
        await cleanLab(this.prefix)
        await Promise.race([Promise.all(running.map((p) => p.exited)), grace])
        unregisterLab(this)
      })()
    }
    return this.#teardown
  }

  /** Synchronous teardown for process 'exit' handlers (SIGKILLs, no grace). */
  teardownSync(): void {
    this.#closed = true
    for (const p of this.processes) p.kill('SIGKILL')
    cleanLabSync(this.prefix)
    unregisterLab(this)
  }

  private claimName(name: string): string {
    checkName('host', name)
    if (this.#hosts.has(name))
      throw new LabNameError(`host or router ${name} already exists in lab ${this.prefix}`)
    return hostNamespace(this.prefix, name)
  }

  private segmentState(name: string): SegmentState {
    const s = this.#segments.get(name)
    if (!s) throw new LabNotFoundError(`lab ${this.prefix} has no segment ${name}; add it with addSegment()`)
    return s
  }

  private segmentInfo(s: SegmentState): Segment {
    return {
      name: s.name,
      cidr: s.cidr.text,
      ...(s.cidr6 ? { cidr6: s.cidr6.text } : {}),
      prefixLength: s.cidr.bits,
      bridge: s.bridge,
      router: s.router?.name,
    }
  }

  private reserve(seg: SegmentState, address: string): void {
    const n = parseIpv4(address)
    if (n === undefined || !inCidr(seg.cidr, n)) {
      throw new LabAddressError(
        `address ${address} is not a host address of segment ${seg.name} (${seg.cidr.text})`,
      )
    }
    if (seg.used.has(n))
      throw new LabAddressError(`address ${address} is already used on segment ${seg.name}`)
    seg.used.add(n)
  }

  private allocate(seg: SegmentState, offset: number): string {
    const { network, size } = seg.cidr
    const start = size - 2 > offset ? offset : Math.min(offset, 2)
    for (let n = network + start; n < network + size - 1; n++) {
      if (!seg.used.has(n)) return formatIpv4(n)
    }
    for (let n = network + 1; n < network + start; n++) {
      if (!seg.used.has(n)) return formatIpv4(n)
    }
    throw new LabAddressError(`segment ${seg.name} (${seg.cidr.text}) has no free address left`)
  }
}

/**
 * Builds an empty lab: removes whatever an earlier run with the same prefix left behind, then creates
 * the switch namespace `<prefix>sw`. Throws LabPermissionError when not root.
 */
export async function createLab(init: LabInit): Promise<Lab> {
  checkPrefix(init.prefix)
  checkRoot()
  const lab = new Lab(init)
  try {
    await lab.init()
  } catch (err) {
    await lab.teardown().catch(() => {})
    throw err
  }
  return lab
}

/** A printable table of describe(). */
export function formatLab(d: LabDescription): string {
  const lines = [`lab ${d.prefix} (switch namespace ${d.switchNamespace})`]
  for (const s of d.segments) {
    const v6 = s.cidr6 ? ` ${s.cidr6}` : ''
    lines.push(
      `  segment ${s.name} ${s.cidr}${v6} bridge ${s.bridge}${s.router ? ` (LAN of ${s.router})` : ''}`,
    )
  }
  for (const h of d.hosts) {
    const extra =
      h.kind === 'router'
        ? ` NAT ${h.lan} -> ${h.wan}${h.symmetric ? ' symmetric' : ''}${h.filter === 'reject' ? ' reject' : ''}`
        : ''
    lines.push(`  ${h.kind} ${h.name} netns ${h.namespace}${h.gateway ? ` via ${h.gateway}` : ''}${extra}`)
    for (const i of h.interfaces) {
      const v6 = i.address6 ? ` ${i.address6}` : ''
      lines.push(`    ${i.ifname} ${i.address}${v6} on ${i.segment}${i.up ? '' : ' (down)'}`)
    }
  }
  return lines.join('\n')
}

export type { HostInit, LabDescription, LabInit, LabLog, NatRouterInit, Segment, SegmentInit }
