/**
 * (Over 500 lines: the daemon's lifecycle wires node, device, MagicDNS, routing, admin API and metrics, each in its own file; this one owns only their order and hand-offs, plus the control-method switch.)
 *
 * The daemon: one MeshNode for one state directory, its TUN, its control socket.
 *
 * start(): identity (created if missing) → pid file → control socket → the node, if the state
 * names a network (otherwise it waits for `network create` or `join` over the socket).
 * stop(): records saved → node stopped → TUN closed → socket and pid file removed.
 */

import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import type { AdminService } from '@meshlan/admin'
import {
  createLogger,
  envLogLevel,
  type Logger,
  type LogLevelRef,
  MeshNode,
  NoNetworkError,
  TUNNEL_ACTIVE_WINDOW_MS,
} from '@meshlan/mesh'
import { decodePolicy } from '@meshlan/wire'
import {
  ADMIN_CONTROL_METHODS,
  adminControl,
  createAdminService,
  proveCliOtp,
  TOTP_GUESS,
} from './admin-service.ts'
import { AUDIT_FILE, AuditLog, readAudit, verifyAudit } from './audit-log.ts'
import { BufferCollect, bufferCollection } from './buffer-collect.ts'
import { autoLockMs, type Config, loadConfig, relayLimits } from './config.ts'
import { RECORDS_SAVE_MS, VERSION } from './constants.ts'
import { type ControlCaller, type ControlServer, isListening, listenControl } from './control.ts'
import { controlAccess } from './control-access.ts'
import { type CallContext, CONTROLLER_METHODS, Controller, type ControllerMethod } from './controller.ts'
import { type OpenDevice, type OverlayDevice, openTunDevice } from './device.ts'
import {
  DaemonRunningError,
  DaemonStoppingError,
  InvalidArgumentError,
  NodeNotRunningError,
} from './errors.ts'
import { fullCollection, HeapTrim } from './heap-trim.ts'
import { CLI_TOTP_LOCKOUT_FILE, Lockout, UNLOCK_LOCKOUT_FILE } from './lockout.ts'
import { MagicDns } from './magic-dns.ts'
import { MetricsServer, snapshotOf } from './metrics.ts'
import { NotProtectedError, OWNER_KEY_FILE, OwnerKeyLock } from './owner-lock.ts'
import { restoreOwner } from './owner-restore.ts'
import { type ConfigChanges, configChanges } from './reload.ts'
import {
  checkRouteSettingsChange,
  persistRouteSettings,
  routeSettingsOf,
  setRouteSettings,
} from './route-settings.ts'
import { RoutingHost } from './routing-host.ts'
import { RoutingSync } from './routing-sync.ts'
import { StateDir, writeFileAtomic } from './state.ts'
import { guardPassphrase } from './unlock.ts'

export interface DaemonInit {
  /** The state directory (absolute or relative to the working directory). */
  stateDir: string
}

export interface DaemonComponents {
  /** @default createLogger('daemon') at config log_level */
  log?: Logger
  /** Opens the TUN. @default openTunDevice */
  openDevice?: OpenDevice
  /** Host routes for `network create`. @default hostRoutes() */
  hostRoutes?: () => Promise<string[]>
}

export interface Daemon {
  readonly state: StateDir
  readonly node: MeshNode | null
  readonly controller: Controller
  /** The owner key's lock (the admin API unlocks through it). */
  readonly lock: OwnerKeyLock
  /** The audit log (the admin API appends its events to it). */
  readonly audit: AuditLog
  start(): Promise<void>
  stop(): Promise<void>
  /** Re-reads config.toml and applies what can change live (SIGHUP, `meshlan reload`). */
  reload(): Promise<ConfigChanges>
  /** Resolves once stop() has finished (also when a client asked for it). */
  readonly stopped: Promise<void>
}

class MeshDaemon implements Daemon {
  readonly state: StateDir
  readonly controller: Controller
  readonly lock: OwnerKeyLock
  readonly audit: AuditLog
  private readonly unlockLockout: Lockout
  private readonly totpLockout: Lockout
  node: MeshNode | null = null
  readonly stopped: Promise<void>
  private readonly components: DaemonComponents
  private log: Logger
  private readonly logLevel: LogLevelRef = { level: 'info' }
  private config!: Config
  private key!: PrivateKey
  private device: OverlayDevice | null = null
  private dns: MagicDns | null = null
  /** DNS (re)starts in order, after each address change. */
  private dnsWork: Promise<void> = Promise.resolve()
  private routing: RoutingSync | null = null
  private server: ControlServer | null = null
  private metrics: MetricsServer | null = null
  private admin: AdminService | null = null
  private lifecycle: Promise<unknown> = Promise.resolve()
  private writes: Promise<unknown> = Promise.resolve()
  private stopping: Promise<void> | null = null
  private wrotePid = false
  private resolveStopped!: () => void

  constructor(init: DaemonInit, components: DaemonComponents) {
    this.state = new StateDir(init.stateDir)
    this.components = components
    this.log = components.log ?? createLogger('daemon')
    this.stopped = new Promise((r) => {
      this.resolveStopped = r
    })
    this.lock = new OwnerKeyLock({ file: join(this.state.dir, OWNER_KEY_FILE) })
    this.audit = new AuditLog({ file: join(this.state.dir, AUDIT_FILE) })
    this.unlockLockout = new Lockout({ file: join(this.state.dir, UNLOCK_LOCKOUT_FILE) })
    this.totpLockout = new Lockout({ file: join(this.state.dir, CLI_TOTP_LOCKOUT_FILE) })
    this.controller = new Controller({
      state: this.state,
      hostRoutes: components.hostRoutes,
      audit: this.audit,
      lock: this.lock,
      hooks: {
        amendPolicy: async (change) => {
          if (this.node == null) return null
          const r = await this.node.amendPolicy(change)
          await this.writes // policy.bin holds it before the caller hears it is done
          return r
        },
        listenAddrs: () => (this.node == null ? null : this.listenAddrs()),
        joinAddrs: (self) => this.node?.libp2pNode.services.reachability.joinBootstrap(self) ?? null,
        records: () => this.node?.knownRecordEnvelopes() ?? [],
        networkChanged: () => this.restartNode(),
      },
    })
  }

  /** What join strings and `info` give out: the node's announced underlay addresses. */
  private listenAddrs(): string[] {
    return this.node?.libp2pNode.services.reachability.announceAddrs() ?? []
  }

  private serialLifecycle<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(fn, fn)
    this.lifecycle = run.catch(() => {})
    return run
  }

  async start(): Promise<void> {
    this.config = await loadConfig(this.state.dir)
    this.logLevel.level = this.config.log_level ?? envLogLevel()
    if (this.components.log == null) this.log = createLogger('daemon', { levelRef: this.logLevel })
    this.lock.autoLockMs = autoLockMs(this.config.admin.auto_lock)
    await this.openDns()
    const { key, peerId } = await this.state.initIdentity()
    this.key = key
    // refuse early when another daemon owns this state; the socket opens only once the node runs,
    // so a client that can connect finds a ready daemon
    if (await isListening(this.state.socketPath())) throw new DaemonRunningError(this.state.dir)
    try {
      // one lifecycle step, so a stop() that starts meanwhile (a fatal error, a signal) runs after
      // it and finds the socket and pid file to remove; and it stops here if it already began
      await this.serialLifecycle(() => this.startServices())
    } catch (err) {
      await this.stop()
      throw err
    }
    this.log.info('daemon started', { state: this.state.dir, peer: peerId, pid: process.pid })
  }

  private async startServices(): Promise<void> {
    await this.startNode()
    if (this.stopping != null) throw new DaemonStoppingError()
    // before the control socket answers: owner actions check TOTP through it, and `meshlan up`
    // returns once the socket answers (a `key create` right after it failed "still starting")
    this.admin = this.createAdmin()
    this.server = await listenControl(
      this.state.socketPath(),
      this.state.dir,
      (m, p, c) => this.handle(m, p, c),
      this.log,
      { access: controlAccess() },
    )
    await writeFileAtomic(this.state.path('pid'), `${process.pid}\n`, 0o600)
    this.wrotePid = true
    const source = () => (this.node == null ? null : snapshotOf(this.node))
    this.metrics = new MetricsServer({ source, log: this.log.child('metrics') })
    await this.metrics.apply(this.config.metrics, this.node?.address ?? null)
    await this.admin.apply(this.config.admin, this.node?.address ?? null)
  }

  /** MagicDNS lives on the TUN: without one (tests, control plane only) the host is never touched. */
  private async openDns(): Promise<void> {
    if (!this.config.tun.enabled || !this.config.dns.enabled) return
    this.dns = new MagicDns({
      stateDir: this.state.dir,
      ifname: this.config.tun.name,
      hostMode: this.config.dns.host_integration,
      log: this.log.child('dns'),
    })
    await this.dns.recover()
  }

  reload(): Promise<ConfigChanges> {
    return this.serialLifecycle(async () => {
      const next = await loadConfig(this.state.dir) // a bad file throws here: nothing changes
      const changes = configChanges(this.config, next)
      this.config = next
      this.logLevel.level = next.log_level ?? envLogLevel()
      this.lock.autoLockMs = autoLockMs(next.admin.auto_lock)
      const node = this.node
      // a node started with relay = false has no relay server: turning it on needs a restart
      if (
        changes.live.includes('relay') &&
        node?.libp2pNode.services.reachability.setRelayMode(next.relay) === false
      ) {
        changes.live = changes.live.filter((k) => k !== 'relay')
        changes.restart = [...changes.restart, 'relay'].sort()
      }
      if (changes.live.some((k) => k.startsWith('dns.'))) {
        await this.dnsWork
        await this.dns?.stop()
        this.dns = null
        await this.openDns()
        const ip = node?.address
        const subnet = node?.status().self.network.subnet
        const dns = this.dns as MagicDns | null // set again by openDns()
        if (node != null && ip != null && subnet != null) await dns?.start(node, ip, subnet)
      }
      if (node != null && changes.live.some((k) => k.startsWith('routes.'))) {
        const r = routeSettingsOf(next)
        await node
          .setRouting({
            advertiseRoutes: r.advertiseRoutes,
            advertiseExitNode: r.advertiseExitNode,
            acceptRoutes: r.acceptRoutes,
            exitNode: r.exitNode,
          })
          .catch((err: Error) => this.log.warn('reload: route settings refused', { error: err.message }))
        this.routing?.setSettings(this.routingSettings())
        await this.routing?.settled()
      }
      if (changes.live.some((k) => k.startsWith('metrics.')))
        await this.metrics?.apply(next.metrics, node?.address ?? null)
      if (changes.live.some((k) => k.startsWith('admin.')))
        await this.admin?.apply(next.admin, node?.address ?? null)
      this.log.info('config reloaded', { applied: changes.live.join(',') || null })
      if (changes.restart.length > 0) {
        this.log.warn('changed settings take effect after a restart (meshlan down && meshlan up)', {
          settings: changes.restart.join(','),
        })
      }
      return changes
    })
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.serialLifecycle(() => this.stopNode()).catch((err: Error) => {
        this.log.warn('stopping the node failed', { error: err.message })
      })
      await this.metrics?.stop()
      await this.admin?.stop()
      await this.server?.close()
      if (this.wrotePid) await unlink(this.state.path('pid')).catch(() => {})
      this.log.info('daemon stopped')
      this.resolveStopped()
    })()
    return this.stopping
  }

  private restartNode(): Promise<void> {
    return this.serialLifecycle(async () => {
      await this.stopNode()
      this.config = await loadConfig(this.state.dir)
      await this.startNode()
    })
  }

  private async startNode(): Promise<void> {
    const network = await this.state.readNetwork()
    if (network == null) {
      this.log.info('no network yet: waiting for `meshlan network create` or `meshlan join`')
      return
    }
    const meshLog = createLogger('mesh', { levelRef: this.logLevel })
    if (this.config.tun.enabled) {
      const open = this.components.openDevice ?? openTunDevice
      this.device = await open({
        name: this.config.tun.name,
        mtu: this.config.tun.mtu,
        offload: this.config.tun.offload,
        log: this.log.child('tun'),
      })
    }
    const node = new MeshNode({
      privateKey: this.key,
      // a protected network: the node runs on its node key; policies are signed with the owner
      // key only while it is unlocked (throws OwnerLockedError otherwise)
      signingKey: this.lock.protected ? () => this.lock.signingKey('policy changes') : undefined,
      networkId: network.networkId,
      owner: network.owner,
      name: this.config.name,
      version: VERSION,
      policy: await this.state.readPolicy(),
      claim: network.claim,
      minPolicyVersion: network.minPolicyVersion,
      bootstrap: network.bootstrap,
      listen: this.config.listen,
      announce: this.config.announce ?? undefined,
      device: this.device,
      mtu: this.config.tun.mtu,
      knownRecords: await this.state.readRecords(),
      relay: this.config.relay,
      portMapping: this.config.nat.port_mapping,
      relayLimits: relayLimits(this.config.nat),
      advertiseRoutes: this.config.routes.advertise,
      advertiseExitNode: this.config.routes.advertise_exit_node,
      acceptRoutes: this.config.routes.accept,
      exitNode: this.config.routes.exit_node,
      // with an exit node, an address is routed outside the tunnel before we dial it
      beforeUnderlayDial: (ip) => this.routing?.bypassNow(ip) ?? Promise.resolve(),
      log: meshLog,
    })
    const device = this.device
    if (device != null) {
      // routes and router rules follow the node; leftovers of a crashed run go first
      const host = new RoutingHost({ ifname: device.name, overlay: '0.0.0.0/0' })
      await host
        .clear()
        .catch((err: Error) => this.log.warn('clearing routing state failed', { error: err.message }))
      const sync = new RoutingSync(
        host,
        this.log,
        this.routingSettings(),
        () => this.dns?.status().upstreams ?? [],
      )
      node.on('routing', (r) => sync.apply(r, node.status().self.network.subnet))
      this.routing = sync
    }
    node.on('address', (ip, prefix) => {
      if (device == null) return
      try {
        device.setAddress(ip, prefix)
      } catch (err) {
        this.log.error('setting the overlay address failed', { ip, prefix, error: (err as Error).message })
        return
      }
      void this.metrics?.apply(this.config.metrics, ip) // `overlay:PORT` binds once the address is up
      void this.admin?.apply(this.config.admin, ip)
      const subnet = node.status().self.network.subnet ?? `${ip}/${prefix}`
      this.dnsWork = this.dnsWork.then(() => this.dns?.start(node, ip, subnet)).catch(() => {})
    })
    node.on('policy', (policy, envelope) => {
      this.writes = this.writes
        .then(() => this.state.writePolicy(envelope))
        .catch((err: Error) => this.log.warn('saving the policy failed', { error: err.message }))
      this.log.info('policy', { version: policy.version })
    })
    try {
      await node.start()
    } catch (err) {
      this.device?.close()
      this.device = null
      throw err
    }
    this.node = node
    // in the node's heartbeat, not a timer of its own (idle wake-ups, issue 14); ends with the node
    node.ticker.every(RECORDS_SAVE_MS, () => void this.saveRecords())
    const every = node.ticker.every.bind(node.ticker)
    const pump = () => node.libp2pNode.services.tunnel.pump
    new HeapTrim({
      every,
      collect: fullCollection(),
      // our tunnels, and the circuits our member relay carries for others (a relay's own tunnels
      // are idle while it forwards a transfer: session 16 saw two collect into one)
      trafficNow: () =>
        (pump()?.activePeers(TUNNEL_ACTIVE_WINDOW_MS).length ?? 0) > 0 ||
        node.libp2pNode.services.reachability.relayedWithin(TUNNEL_ACTIVE_WINDOW_MS),
      log: this.log.child('heap'),
    }).start()
    // promoted socket buffers under load, which V8 leaves to pile up (buffer-collect.ts)
    new BufferCollect({ every, collect: bufferCollection(), log: this.log.child('heap') }).start()
    // every version this node signs, whoever asked (the CLI, the admin API, the binder)
    node.membership.on('signed', (envelope) => {
      const d = decodePolicy(envelope)
      const version = d.ok ? d.value.body.version : null
      void this.audit
        .append({ event: 'policy.sign', actor: 'daemon', source: 'local', detail: { version } })
        .catch((err: Error) => this.log.warn('audit write failed', { error: err.message }))
    })
  }

  private routingSettings(): { snat: boolean; allowLan: boolean } {
    return { snat: this.config.routes.snat, allowLan: this.config.routes.exit_node_allow_lan_access }
  }

  private async stopNode(): Promise<void> {
    const node = this.node
    if (node == null) return
    await this.routing?.clear()
    this.routing = null
    await this.saveRecords()
    await this.dnsWork
    await this.dns?.stop()
    this.node = null
    await node.stop()
    await this.writes
    this.device?.close()
    this.device = null
  }

  private async saveRecords(): Promise<void> {
    const node = this.node
    if (node == null) return
    await this.state.writeRecords(node.knownRecordEnvelopes()).catch((err: Error) => {
      this.log.warn('saving records failed', { error: err.message })
    })
  }

  /** The admin API (@meshlan/admin) on `[admin] listen`; its control methods are `admin*`. */
  private createAdmin(): AdminService {
    return createAdminService({
      state: this.state,
      controller: this.controller,
      status: async () => ({
        info: await this.handle('info', {}),
        node: this.node?.status() ?? null,
        // `meshlan netcheck`'s view (no probing: what the node already knows)
        net: this.node?.netcheck() ?? null,
        dns: await this.handle('dns-status', {}).catch(() => null),
      }),
      ownerLock: () => this.lock,
      audit: this.audit,
      readAudit: async (q) => (await readAudit(this.audit.file, q.since ?? 0)).slice(-q.limit),
      verifyAudit: () => verifyAudit(this.audit.file),
      log: this.log.child('admin'),
    })
  }

  /** unlock, lock, lock-status, audit, audit-verify; undefined for any other method. */
  private async ownerLockMethod(
    method: string,
    params: Record<string, unknown>,
    ctx: CallContext,
    guard: Parameters<typeof guardPassphrase>[0],
  ): Promise<unknown> {
    switch (method) {
      case 'unlock': {
        const passphrase = params.passphrase
        if (typeof passphrase !== 'string' || passphrase === '')
          throw new InvalidArgumentError('unlock needs the passphrase')
        if (!this.lock.protected) throw new NotProtectedError()
        await guardPassphrase(guard, 'unlock', ctx, () => this.lock.unlock(passphrase))
        await this.audit.append({ ...ctx, event: 'unlock', ok: true })
        return { locked: false }
      }
      case 'lock':
        if (!this.lock.protected) throw new NotProtectedError()
        this.lock.lock()
        await this.audit.append({ ...ctx, event: 'lock', ok: true })
        return { locked: true }
      case 'lock-status':
        return { protected: this.lock.protected, locked: this.lock.locked }
      case 'audit': {
        const since = typeof params.sinceMs === 'number' ? params.sinceMs : 0
        return { entries: await readAudit(this.audit.file, since) }
      }
      case 'audit-verify':
        return verifyAudit(this.audit.file)
      default:
        return undefined
    }
  }

  private requireNode(): MeshNode {
    if (this.node != null) return this.node
    throw new NodeNotRunningError(new NoNetworkError().message)
  }

  private async handle(
    method: string,
    withOtp: Record<string, unknown>,
    caller: ControlCaller = { uid: process.getuid?.() ?? 0 },
  ): Promise<unknown> {
    const who = caller.uid == null ? 'uid:unknown' : `uid:${caller.uid}`
    const ctx: CallContext = { actor: who, source: who }
    const guard = { lockout: this.unlockLockout, log: this.log.child('auth'), audit: this.audit }
    // owner actions need a TOTP code once an admin account has TOTP on (`--otp`)
    const totpGuard = { ...guard, lockout: this.totpLockout }
    const params = await proveCliOtp(this.admin, totpGuard, method, withOtp, ctx)
    if (method === 'networkProtect' && params.oldPassphrase != null) {
      // a wrong old passphrase is a guess like a wrong unlock: same lockout
      return guardPassphrase(guard, 'unlock', ctx, () =>
        this.controller.networkProtect(params as { passphrase: string; oldPassphrase: string }, ctx),
      )
    }
    if (method === 'networkBackup' && params.ownerPassphrase != null) {
      // the owner key's passphrase, guessed through a backup, counts like an unlock
      return guardPassphrase(guard, 'unlock', ctx, () =>
        this.controller.networkBackup(params as { passphrase: string; ownerPassphrase: string }, ctx),
      )
    }
    if (method === 'networkPhrase' && params.ownerPassphrase != null) {
      return guardPassphrase(guard, 'unlock', ctx, () =>
        this.controller.networkPhrase(params as { ownerPassphrase: string }, ctx),
      )
    }
    if (method === 'networkRestore') {
      // no lockout: whoever holds the backup file can guess its passphrase offline anyway
      return restoreOwner(
        {
          state: this.state,
          lock: this.lock,
          audit: this.audit,
          node: () => this.node,
          restartNode: () => this.restartNode(),
          name: () => this.config.name,
        },
        params,
        ctx,
      )
    }
    if ((CONTROLLER_METHODS as readonly string[]).includes(method)) {
      const fn = this.controller[method as ControllerMethod] as (
        p: unknown,
        c: CallContext,
      ) => Promise<unknown>
      return fn.call(this.controller, params, ctx)
    }
    const owner = await this.ownerLockMethod(method, params, ctx, guard)
    if (owner !== undefined) return owner
    if (ADMIN_CONTROL_METHODS.includes(method) && this.admin != null) {
      const admin = this.admin
      // a TOTP code given to confirm or disable is a guess like `--otp`: the same per-uid lockout
      if (method === 'adminTotpDisable' || method === 'adminTotpConfirm')
        return guardPassphrase(
          totpGuard,
          'totp',
          ctx,
          () => adminControl(admin, method, params, who),
          TOTP_GUESS,
        )
      return adminControl(admin, method, params, who)
    }
    switch (method) {
      case 'info': {
        const network = await this.state.readNetwork()
        return {
          pid: process.pid,
          version: VERSION,
          stateDir: this.state.dir,
          network: network == null ? null : { id: network.networkId, role: network.role },
          node:
            this.node == null
              ? null
              : { peerId: this.node.peerId, ip: this.node.address, addrs: this.listenAddrs() },
          device: this.device?.name ?? null,
        }
      }
      case 'status':
        return this.requireNode().status()
      case 'netcheck':
        return this.requireNode().netcheck()
      case 'dns-status':
        return (
          this.dns?.status() ?? {
            enabled: false,
            mode: 'off',
            applied: false,
            listen: [],
            upstreams: [],
            names: [],
            counters: null,
            reason: this.config.tun.enabled
              ? 'disabled in config.toml ([dns] enabled = false)'
              : 'no TUN device',
          }
        )
      case 'ping': {
        const target = params.target
        const count = params.count ?? 3
        if (typeof target !== 'string' || target === '')
          throw new InvalidArgumentError('ping needs a NAME or IP')
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 100) {
          throw new InvalidArgumentError('--count must be a whole number from 1 to 100')
        }
        return this.requireNode().ping(target, count)
      }
      case 'set': {
        const ch = checkRouteSettingsChange(params)
        this.config =
          this.node == null
            ? await persistRouteSettings(this.state.dir, ch, null)
            : await setRouteSettings(this.node, this.state.dir, ch)
        this.routing?.setSettings(this.routingSettings())
        // `set` returns once the kernel has the new state, so a script can use it at once
        await this.routing?.settled()
        return routeSettingsOf(this.config)
      }
      case 'reload':
        return this.reload()
      case 'shutdown':
        setImmediate(() => void this.stop())
        return { pid: process.pid }
      default:
        throw new InvalidArgumentError(`unknown control method ${JSON.stringify(method)}`)
    }
  }
}

export function createDaemon(init: DaemonInit, components: DaemonComponents = {}): Daemon {
  return new MeshDaemon(init, components)
}
