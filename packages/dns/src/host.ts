/**
 * Host resolver integration: make the host send `.mesh` questions to the meshlan resolver, and put
 * everything back afterwards — including after a crash (`recover()` at daemon start).
 *
 * - `resolved`: per-link DNS on the meshlan interface through `resolvectl` (only `~mesh`, and the
 *   overlay reverse zones, go to meshlan; the link is not a default route). Undone with
 *   `resolvectl revert`. Nothing on disk changes but a small state file.
 * - `resolvconf`: the safe fallback. The current resolv.conf is saved byte-for-byte in the state
 *   directory (fsync'd) before a managed file pointing at the resolver replaces it atomically
 *   (temp file + rename in the same directory). If resolv.conf is a symlink, the link itself is
 *   replaced by a regular file (its target, e.g. under /run, is never written) and `restore()`
 *   recreates the link. `restore()` writes the saved bytes back and deletes the backup; if another
 *   program rewrote resolv.conf meanwhile, its version is kept.
 * - `off`: touch nothing.
 *
 * The state file (`dns-host.json`) is written last when applying and deleted last when restoring, so
 * a crash at any point leaves either nothing to undo or a complete record of what to undo.
 */
import { createHash } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { parseCidr } from '@meshlan/wire'
import {
  DEFAULT_FALLBACK_NAMESERVERS,
  DEFAULT_HOST_MODE,
  DEFAULT_RESOLV_CONF,
  DEFAULT_RESOLVED_STUB,
  HOST_DNS_STATE,
  MESH_DOMAIN,
  RESOLV_CONF_BACKUP,
} from './constants.ts'
import { HostDnsApplyError, HostDnsRestoreError, HostDnsUnavailableError } from './errors.ts'
import { type CommandResult, type CommandRunner, defaultRun, type HostDnsFs, nodeHostFs } from './host-io.ts'
import { type DnsLogger, silentLogger } from './log.ts'
import { parseResolvConf, renderManagedResolvConf, usesResolvedStub } from './resolv-conf.ts'
import { reverseZonesFor } from './reverse.ts'

export type HostDnsMode = 'auto' | 'resolved' | 'resolvconf' | 'off'

export interface HostDnsInit {
  /** @default DEFAULT_HOST_MODE ('auto': resolved when it manages the host's DNS, else resolvconf) */
  mode?: HostDnsMode
  /** The meshlan interface (resolved mode sets per-link DNS on it). */
  ifname: string
  /** Address the meshlan resolver listens on (the node's overlay IP). */
  resolverIp: string
  /** The daemon's state directory: holds the resolv.conf backup and `dns-host.json`. */
  stateDir: string
  /** @default DEFAULT_RESOLV_CONF */
  resolvConfPath?: string
  /** @default MESH_DOMAIN */
  domain?: 'mesh'
  /**
   * The overlay CIDR: in resolved mode its reverse zones (e.g. `~144.10.in-addr.arpa`) are routed to
   * meshlan too, so `dig -x` of an overlay address works. @default null (only `~mesh`)
   */
  overlayCidr?: string | null
  /** Original nameservers kept after meshlan's in a managed resolv.conf. @default DEFAULT_FALLBACK_NAMESERVERS */
  fallbackNameservers?: number
  /** File whose presence means systemd-resolved runs. @default DEFAULT_RESOLVED_STUB */
  resolvedStubPath?: string
}

export interface HostDnsComponents {
  /** @default execFile with a COMMAND_TIMEOUT_MS timeout */
  run?: CommandRunner
  /** @default node:fs */
  fs?: HostDnsFs
  log?: DnsLogger
}

export interface HostDnsStatus {
  /** The mode asked for. */
  requested: HostDnsMode
  /** The mode in effect (`auto` resolved to one), null before `apply()`. */
  mode: 'resolved' | 'resolvconf' | 'off' | null
  applied: boolean
  /** Where the resolver should forward non-`.mesh` questions (resolvconf mode: the original nameservers). */
  upstreams: string[]
  ifname: string
  resolverIp: string
  resolvConfPath: string
  backupPath: string
  /** Why `auto` chose what it chose, or why nothing was done. */
  reason: string
}

export interface HostDns {
  /** Points the host at the resolver. Idempotent. Throws HostDnsApplyError/HostDnsUnavailableError, having undone any partial change. */
  apply(): Promise<void>
  /** Undoes `apply()` (also a crashed run's, when a state file is left). Throws HostDnsRestoreError, keeping the backup. */
  restore(): Promise<void>
  /** At daemon start: if a crashed run left the host pointed at meshlan, put it back. True if something was restored. */
  recover(): Promise<boolean>
  status(): HostDnsStatus
  /** The original nameservers found by `apply()` in resolvconf mode; [] otherwise. */
  readonly upstreams: string[]
}

type SavedState =
  | { v: 1; mode: 'resolved'; ifname: string }
  | {
      v: 1
      mode: 'resolvconf'
      path: string
      original: 'file' | 'symlink' | 'absent'
      linkTarget: string | null
      fileMode: number
      /** sha256 (hex) of the managed file meshlan wrote. */
      written: string
    }

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

function reasonOf(err: unknown): string {
  return (err as { code?: string })?.code ?? (err instanceof Error ? err.message : String(err))
}

export function createHostDns(init: HostDnsInit, components: HostDnsComponents = {}): HostDns {
  const requested: HostDnsMode = init.mode ?? DEFAULT_HOST_MODE
  const run = components.run ?? defaultRun
  const fs = components.fs ?? nodeHostFs
  const log = components.log ?? silentLogger
  const resolvConfPath = init.resolvConfPath ?? DEFAULT_RESOLV_CONF
  const stubPath = init.resolvedStubPath ?? DEFAULT_RESOLVED_STUB
  const domain = init.domain ?? MESH_DOMAIN
  const fallbackCount = init.fallbackNameservers ?? DEFAULT_FALLBACK_NAMESERVERS
  const backupPath = join(init.stateDir, RESOLV_CONF_BACKUP)
  const statePath = join(init.stateDir, HOST_DNS_STATE)
  const tmpPath = join(dirname(resolvConfPath), `.${basename(resolvConfPath)}.meshlan-tmp`)
  const parsedOverlay = init.overlayCidr != null ? parseCidr(init.overlayCidr) : null
  const overlay = parsedOverlay?.ok === true ? parsedOverlay : null
  const routingDomains = [
    `~${domain}`,
    ...(overlay != null ? reverseZonesFor(overlay).map((z) => `~${z}`) : []),
  ]

  let mode: HostDnsStatus['mode'] = requested === 'off' ? 'off' : null
  let applied = false
  let upstreams: string[] = []
  let reason = requested === 'off' ? 'host integration is off' : 'not applied yet'

  const resolvectl = (...args: string[]): Promise<CommandResult> => run('resolvectl', args)

  const readState = async (): Promise<SavedState | null> => {
    let text: string
    try {
      text = (await fs.readFile(statePath)).toString('utf8')
    } catch {
      return null
    }
    try {
      const s = JSON.parse(text) as SavedState
      if (s?.v === 1 && (s.mode === 'resolved' || s.mode === 'resolvconf')) return s
    } catch {
      // fall through
    }
    log.warn('unreadable host DNS state file ignored', { path: statePath })
    return null
  }

  const writeState = async (s: SavedState): Promise<void> => {
    await fs.writeFileSync(`${statePath}.tmp`, JSON.stringify(s), 0o600)
    await fs.rename(`${statePath}.tmp`, statePath)
    await fs.syncDir(init.stateDir)
  }

  const removeQuietly = async (p: string): Promise<void> => {
    try {
      await fs.unlink(p)
    } catch {
      // already gone
    }
  }

  /** What is systemd-resolved doing here? */
  const probeResolved = async (): Promise<{ usable: boolean; managesHost: boolean; why: string }> => {
    const v = await resolvectl('--version')
    if (v.code !== 0) return { usable: false, managesHost: false, why: 'resolvectl is not available' }
    let active = (await fs.lstat(stubPath)) != null
    if (!active) {
      const s = await run('systemctl', ['is-active', 'systemd-resolved'])
      active = s.stdout.trim() === 'active'
    }
    if (!active) return { usable: false, managesHost: false, why: 'systemd-resolved is not running' }
    let conf = ''
    try {
      conf = (await fs.readFile(resolvConfPath)).toString('utf8')
    } catch {
      // no resolv.conf: glibc would ask 127.0.0.1, not resolved
    }
    const managesHost = usesResolvedStub(parseResolvConf(conf))
    return {
      usable: true,
      managesHost,
      why: managesHost
        ? 'systemd-resolved manages the host resolver'
        : `systemd-resolved runs but ${resolvConfPath} does not point at its stub`,
    }
  }

  /**
   * Replaces resolv.conf with `tmp` (already written): rename for atomicity, and when resolv.conf
   * is a mount point (a bind mount: containers, `ip netns exec`), rename fails with EBUSY/EXDEV and
   * the contents are rewritten in place instead.
   */
  const replaceWith = async (
    tmp: string,
    path: string,
    data: Buffer | string,
    mode: number,
  ): Promise<void> => {
    try {
      await fs.rename(tmp, path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EBUSY' && code !== 'EXDEV') throw err
      await removeQuietly(tmp)
      await fs.writeFileSync(path, data, mode)
    }
  }

  // ---- resolved ----

  const applyResolved = async (): Promise<void> => {
    await fs.mkdir(init.stateDir)
    await writeState({ v: 1, mode: 'resolved', ifname: init.ifname })
    const steps: string[][] = [
      ['dns', init.ifname, init.resolverIp],
      ['domain', init.ifname, ...routingDomains],
    ]
    for (const args of steps) {
      const r = await resolvectl(...args)
      if (r.code !== 0) {
        await resolvectl('revert', init.ifname)
        await removeQuietly(statePath)
        throw new HostDnsApplyError('resolved', `resolvectl ${args.join(' ')} failed: ${r.stderr.trim()}`)
      }
    }
    // Older systemd (< 240) has no default-route; the ~domain routing still works there.
    const dr = await resolvectl('default-route', init.ifname, 'false')
    if (dr.code !== 0) log.debug('resolvectl default-route not supported', { stderr: dr.stderr.trim() })
    upstreams = []
  }

  const undoResolved = async (ifname: string): Promise<void> => {
    const r = await resolvectl('revert', ifname)
    // The link may already be gone (the TUN was deleted), which reverts it too.
    if (r.code !== 0) log.debug('resolvectl revert failed', { ifname, stderr: r.stderr.trim() })
    await removeQuietly(statePath)
  }

  // ---- resolv.conf ----

  /** Puts the original resolv.conf back as recorded in `s`. Throws HostDnsRestoreError. */
  const undoResolvConf = async (s: Extract<SavedState, { mode: 'resolvconf' }>): Promise<void> => {
    let backup: Buffer | null = null
    try {
      backup = await fs.readFile(backupPath)
    } catch {
      if (s.original === 'file') {
        throw new HostDnsRestoreError('the backup is missing', null, s.path)
      }
    }
    try {
      const current = await fs.lstat(s.path)
      let ours = current == null
      if (current != null && !current.symlink) {
        ours = sha256(await fs.readFile(s.path)) === s.written
      }
      if (!ours) {
        log.warn(
          'resolv.conf was changed by another program while meshlan managed it; keeping that version',
          {
            path: s.path,
          },
        )
      } else if (s.original === 'absent') {
        await removeQuietly(s.path)
      } else if (s.original === 'symlink' && s.linkTarget != null) {
        await removeQuietly(tmpPathFor(s.path))
        await fs.symlink(s.linkTarget, tmpPathFor(s.path))
        await fs.rename(tmpPathFor(s.path), s.path)
      } else {
        await fs.writeFileSync(tmpPathFor(s.path), backup ?? Buffer.alloc(0), s.fileMode || 0o644)
        await replaceWith(tmpPathFor(s.path), s.path, backup ?? Buffer.alloc(0), s.fileMode || 0o644)
      }
      await fs.syncDir(dirname(s.path))
    } catch (err) {
      await removeQuietly(tmpPathFor(s.path))
      throw new HostDnsRestoreError(`cannot write ${s.path} (${reasonOf(err)})`, backupPath, s.path, err)
    }
    await removeQuietly(backupPath)
    await removeQuietly(statePath)
    await fs.syncDir(init.stateDir)
  }

  const applyResolvConf = async (): Promise<void> => {
    await fs.mkdir(init.stateDir)
    const st = await fs.lstat(resolvConfPath)
    const original: 'file' | 'symlink' | 'absent' = st == null ? 'absent' : st.symlink ? 'symlink' : 'file'
    const linkTarget = original === 'symlink' ? await fs.readlink(resolvConfPath) : null
    let content: Buffer = Buffer.alloc(0)
    if (original !== 'absent') {
      try {
        content = await fs.readFile(resolvConfPath)
      } catch (err) {
        // A dangling symlink reads as absent content; anything else is a real problem.
        if (original !== 'symlink')
          throw new HostDnsApplyError('resolvconf', `cannot read ${resolvConfPath}`, err)
      }
    }
    const conf = parseResolvConf(content.toString('utf8'))
    if (conf.managedByMeshlan) {
      log.warn(
        'resolv.conf was written by meshlan but no backup exists; its fallback nameservers become the upstreams',
        {
          path: resolvConfPath,
        },
      )
    }
    const found = conf.nameservers.filter((n) => n !== init.resolverIp)
    if (found.length === 0) log.warn('no upstream nameservers in resolv.conf; other names will be REFUSED')
    const managed = renderManagedResolvConf({
      resolverIp: init.resolverIp,
      original: conf,
      fallbacks: found.slice(0, Math.max(0, fallbackCount)),
      backupPath,
    })
    const state: SavedState = {
      v: 1,
      mode: 'resolvconf',
      path: resolvConfPath,
      original,
      linkTarget,
      fileMode: st?.symlink === false ? st.mode : 0o644,
      written: sha256(managed),
    }
    // 1. The backup, durable, then the state that says it is live. Until then nothing has changed.
    try {
      await fs.writeFileSync(`${backupPath}.tmp`, content, 0o600)
      await fs.rename(`${backupPath}.tmp`, backupPath)
      await writeState(state)
    } catch (err) {
      await removeQuietly(`${backupPath}.tmp`)
      await removeQuietly(backupPath)
      await removeQuietly(statePath)
      throw new HostDnsApplyError(
        'resolvconf',
        `cannot save the backup in ${init.stateDir} (${reasonOf(err)})`,
        err,
      )
    }
    // 2. The managed file, atomically.
    try {
      await fs.writeFileSync(tmpPath, managed, 0o644)
      await replaceWith(tmpPath, resolvConfPath, managed, 0o644)
      await fs.syncDir(dirname(resolvConfPath))
    } catch (err) {
      await removeQuietly(tmpPath)
      try {
        await undoResolvConf(state)
      } catch (undoErr) {
        log.error('restoring resolv.conf after a failed write also failed', { reason: reasonOf(undoErr) })
      }
      throw new HostDnsApplyError('resolvconf', `cannot write ${resolvConfPath} (${reasonOf(err)})`, err)
    }
    upstreams = found
  }

  const undo = async (s: SavedState): Promise<void> => {
    if (s.mode === 'resolved') await undoResolved(s.ifname)
    else await undoResolvConf(s)
  }

  /** A backup with no state file: the crash came before resolv.conf was touched — unless it carries our header. */
  const strayBackup = async (): Promise<boolean> => {
    let backup: Buffer
    try {
      backup = await fs.readFile(backupPath)
    } catch {
      return false
    }
    let current = ''
    try {
      current = (await fs.readFile(resolvConfPath)).toString('utf8')
    } catch {
      // missing: leave it
    }
    if (parseResolvConf(current).managedByMeshlan) {
      try {
        await fs.writeFileSync(tmpPath, backup, 0o644)
        await replaceWith(tmpPath, resolvConfPath, backup, 0o644)
      } catch (err) {
        await removeQuietly(tmpPath)
        throw new HostDnsRestoreError(
          `cannot write ${resolvConfPath} (${reasonOf(err)})`,
          backupPath,
          resolvConfPath,
        )
      }
    }
    await removeQuietly(backupPath)
    return true
  }

  const recover = async (): Promise<boolean> => {
    const s = await readState()
    if (s != null) {
      log.warn('restoring host DNS left by an earlier run', { mode: s.mode })
      await undo(s)
      return true
    }
    return strayBackup()
  }

  return {
    get upstreams() {
      return upstreams.slice()
    },
    async apply() {
      if (requested === 'off' || applied) return
      await recover()
      let chosen: 'resolved' | 'resolvconf'
      if (requested === 'resolvconf') {
        chosen = 'resolvconf'
        reason = 'resolvconf mode asked for'
      } else {
        const p = await probeResolved()
        if (requested === 'resolved') {
          if (!p.usable) throw new HostDnsUnavailableError('resolved', p.why)
          chosen = 'resolved'
          reason = 'resolved mode asked for'
        } else {
          chosen = p.usable && p.managesHost ? 'resolved' : 'resolvconf'
          reason = p.why
        }
      }
      if (chosen === 'resolved') await applyResolved()
      else await applyResolvConf()
      mode = chosen
      applied = true
      log.info('host DNS points at meshlan', {
        mode: chosen,
        reason,
        upstreams: upstreams.join(',') || 'none',
      })
    },
    async restore() {
      if (requested === 'off') return
      const s = await readState()
      if (s != null) await undo(s)
      else await strayBackup()
      if (applied) log.info('host DNS restored', { mode: mode ?? 'none' })
      applied = false
      upstreams = []
    },
    recover,
    status() {
      return {
        requested,
        mode,
        applied,
        upstreams: upstreams.slice(),
        ifname: init.ifname,
        resolverIp: init.resolverIp,
        resolvConfPath,
        backupPath,
        reason,
      }
    },
  }
}

function tmpPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.meshlan-tmp`)
}
