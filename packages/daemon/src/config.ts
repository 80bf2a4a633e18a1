/**
 * `<state>/config.toml`: what is not a flag. Parsed with smol-toml, validated with zod; every
 * problem names the field. Defaults come from @meshlan/mesh constants (see docs/config.md).
 */
import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_ADMIN_LISTEN, parseAdminListen } from '@meshlan/admin/listen'
import { DEFAULT_MTU, DEFAULT_TUN_NAME, type LogLevel } from '@meshlan/mesh'
import { MAX_RECORD_ROUTES, parseCidr, sanitizeName } from '@meshlan/wire'
import { parse, stringify, TomlError } from 'smol-toml'
import { z } from 'zod'
import { DEFAULT_LISTEN, MAX_TUN_MTU, MAX_TUN_NAME_LEN, MIN_TUN_MTU, STATE_FILES } from './constants.ts'
import { parseDuration } from './duration.ts'
import { ConfigError } from './errors.ts'
import { parseMetricsListen } from './metrics-listen.ts'
import { writeFileAtomic } from './state.ts'

export interface Config {
  /** Wanted node name. @default the host name */
  name: string
  /** libp2p listen multiaddrs. @default DEFAULT_LISTEN */
  listen: string[]
  /** Addresses to announce instead of the listen addresses (also used in join strings). */
  announce: string[] | null
  tun: {
    /** false = control plane only (no TUN device; for tests). @default true */
    enabled: boolean
    /** @default DEFAULT_TUN_NAME */
    name: string
    /** @default DEFAULT_MTU */
    mtu: number
    /**
     * Kernel offloads on the TUN (virtio_net_hdr + checksum + TSO): the pump moves TCP
     * super-packets (~64 KiB) instead of MTU-sized ones; a peer without offloads gets them split.
     * @default true
     */
    offload: boolean
  }
  /** @default 'info' (or MESHLAN_LOG) */
  log_level: LogLevel | null
  /**
   * Serve as a member relay (circuit relay v2 for members, no data or time cap): "auto" once
   * members outside our network can dial us back on an address we announce, true always, false
   * never. NATed members reserve on the two nearest relays.
   * @default 'auto'
   */
  relay: boolean | 'auto'
  dns: {
    /** Answer `name.mesh` on the overlay address (port 53). Needs the TUN. @default true */
    enabled: boolean
    /**
     * How `.mesh` reaches the resolver: systemd-resolved per-link DNS, a managed resolv.conf
     * (restored on `down`), 'auto' (resolved when it manages the host, else resolv.conf) or 'off'.
     * @default 'auto'
     */
    host_integration: 'auto' | 'resolved' | 'resolvconf' | 'off'
  }
  routes: {
    /** Prefixes this node offers to route into its LAN (a subnet router); the owner approves. @default [] */
    advertise: string[]
    /** Install the approved routes other nodes serve (kernel routes via the TUN). @default false */
    accept: boolean
    /** Source-NAT traffic forwarded into advertised prefixes, so LAN hosts need no route back. @default true */
    snat: boolean
    /** Offer to be an exit node (the owner approves). @default false */
    advertise_exit_node: boolean
    /** Send all non-local traffic through this node (final name or overlay IP); null = none. @default null */
    exit_node: string | null
    /** With an exit node, keep this host's own LAN reachable directly. @default false */
    exit_node_allow_lan_access: boolean
  }
  metrics: {
    /**
     * The Prometheus endpoint (`GET /metrics`), "HOST:PORT"; null = off. HOST: an IP, [IPv6],
     * localhost, or overlay (this node's overlay address). See metrics-listen.ts. @default null
     */
    listen: string | null
    /** Allow a listen address that is neither loopback nor the overlay address. @default false */
    expose: boolean
  }
  nat: {
    /**
     * Ask the home router (UPnP IGD / NAT-PMP) to forward the listening port and announce the
     * mapped address (mesh reachability/port-mapping.ts). @default true
     */
    port_mapping: boolean
    /**
     * What this node's member relay forwards for all members together, Mbit/s, split fairly
     * among the members using it; 0 = no fixed cap (equal shares only while the relay is busy).
     * @default 0
     */
    relay_rate_mbit: number
    /** MB (10^6 bytes) each member may relay through us per `relay_quota_period`; 0 = no quota. @default 0 */
    relay_member_quota_mb: number
    /** The quota's period, a duration ("24h"). @default "24h" */
    relay_quota_period: string
  }
  admin: {
    /**
     * Where the admin API listens ("HOST:PORT"; HOST an IP, [IPv6], localhost or overlay); [] = off.
     * @default ["127.0.0.1:7947"]
     */
    listen: string[]
    /** Allow listen addresses that are neither loopback nor the overlay address. @default false */
    public: boolean
    /**
     * Forget the unlocked owner key after this long without a signature: a duration ("30m");
     * null = never (autoLockMs() turns it into ms). @default null
     */
    auto_lock: string | null
  }
}

const multiaddr = z
  .string()
  .refine((s) => s.startsWith('/') && s.length <= 1024, 'must be a multiaddr like /ip4/0.0.0.0/tcp/7946')

const schema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and -, at most 63 characters')
    .optional(),
  listen: z.array(multiaddr).min(1, 'needs at least one address').optional(),
  announce: z.array(multiaddr).optional(),
  tun: z
    .strictObject({
      enabled: z.boolean().optional(),
      name: z
        .string()
        .regex(
          new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_TUN_NAME_LEN}}$`),
          `must be 1-${MAX_TUN_NAME_LEN} letters, digits, _ . or -`,
        )
        .optional(),
      mtu: z.number().int('must be an integer').min(MIN_TUN_MTU).max(MAX_TUN_MTU).optional(),
      offload: z.boolean().optional(),
    })
    .optional(),
  log_level: z.enum(['error', 'warn', 'info', 'debug']).optional(),
  relay: z.union([z.boolean(), z.literal('auto')], { error: 'must be true, false or "auto"' }).optional(),
  dns: z
    .strictObject({
      enabled: z.boolean().optional(),
      host_integration: z.enum(['auto', 'resolved', 'resolvconf', 'off']).optional(),
    })
    .optional(),
  routes: z
    .strictObject({
      advertise: z
        .array(
          z
            .string()
            .refine(
              (c) => isCanonicalCidr(c),
              'must be an IPv4 CIDR with host bits clear, e.g. 192.168.1.0/24',
            ),
        )
        .max(MAX_RECORD_ROUTES)
        .optional(),
      accept: z.boolean().optional(),
      snat: z.boolean().optional(),
      advertise_exit_node: z.boolean().optional(),
      exit_node: z
        .string()
        .regex(
          /^$|^[a-z0-9][a-z0-9-]{0,62}$|^\d{1,3}(\.\d{1,3}){3}$/,
          'must be a node name, an overlay IP, or "" for none',
        )
        .optional(),
      exit_node_allow_lan_access: z.boolean().optional(),
    })
    .optional(),
  metrics: z
    .strictObject({
      listen: z
        .string()
        .refine((s) => s === '' || typeof parseMetricsListen(s) !== 'string', {
          error: (i) => `${parseMetricsListen(String(i.input))}`,
        })
        .optional(),
      expose: z.boolean().optional(),
    })
    .refine(
      (m) => {
        const l = m.listen == null || m.listen === '' ? null : parseMetricsListen(m.listen)
        return m.expose === true || l == null || typeof l === 'string' || l.kind !== 'wildcard'
      },
      { error: 'listening on every address (0.0.0.0, [::]) needs expose = true', path: ['listen'] },
    )
    .optional(),
  nat: z
    .strictObject({
      port_mapping: z.boolean().optional(),
      relay_rate_mbit: z.number().min(0).max(100_000).optional(),
      relay_member_quota_mb: z.number().min(0).max(1e9).optional(),
      relay_quota_period: z
        .string()
        .refine((s) => parseDuration(s).ok, {
          error: 'must be a duration like 1h or 24h',
        })
        .optional(),
    })
    .optional(),
  admin: z
    .strictObject({
      listen: z
        .array(
          z.string().refine((s) => typeof parseAdminListen(s) !== 'string', {
            error: (i) => `${parseAdminListen(String(i.input))}`,
          }),
        )
        .max(8)
        .optional(),
      public: z.boolean().optional(),
      auto_lock: z
        .string()
        .refine((s) => s === '' || parseDuration(s).ok, {
          error: 'must be a duration like 15m or 1h, or "" for never',
        })
        .optional(),
    })
    .optional(),
})

function isCanonicalCidr(text: string): boolean {
  const c = parseCidr(text)
  return c.ok && c.ip === c.base && c.prefix >= 8
}

export type ConfigResult = { ok: true; value: Config } | { ok: false; field: string; reason: string }

/** The default node name: the host name, made a valid node name. */
export function defaultName(): string {
  return sanitizeName(hostname(), 'node')
}

/** Parses config.toml text. Never throws: bad input names the field. */
export function parseConfig(text: string): ConfigResult {
  let raw: unknown
  try {
    raw = parse(text)
  } catch (err) {
    if (err instanceof TomlError) {
      const why = err.message.split('\n')[0]
      return {
        ok: false,
        field: '',
        reason: `not valid TOML at line ${err.line}, column ${err.column}: ${why}`,
      }
    }
    return { ok: false, field: '', reason: `not valid TOML: ${String(err)}` }
  }
  const r = schema.safeParse(raw)
  if (!r.success) {
    const issue = r.error.issues[0]
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : []
    const path = [...issue.path, ...keys.slice(0, 1)].map(String).join('.')
    const reason = issue.code === 'unrecognized_keys' ? 'unknown setting (see docs/config.md)' : issue.message
    return { ok: false, field: path, reason }
  }
  const c = r.data
  return {
    ok: true,
    value: {
      name: c.name ?? defaultName(),
      listen: c.listen ?? [...DEFAULT_LISTEN],
      announce: c.announce ?? null,
      tun: {
        enabled: c.tun?.enabled ?? true,
        name: c.tun?.name ?? DEFAULT_TUN_NAME,
        mtu: c.tun?.mtu ?? DEFAULT_MTU,
        offload: c.tun?.offload ?? true,
      },
      log_level: c.log_level ?? null,
      relay: c.relay ?? 'auto',
      dns: {
        enabled: c.dns?.enabled ?? true,
        host_integration: c.dns?.host_integration ?? 'auto',
      },
      routes: {
        advertise: c.routes?.advertise ?? [],
        accept: c.routes?.accept ?? false,
        snat: c.routes?.snat ?? true,
        advertise_exit_node: c.routes?.advertise_exit_node ?? false,
        exit_node: c.routes?.exit_node == null || c.routes.exit_node === '' ? null : c.routes.exit_node,
        exit_node_allow_lan_access: c.routes?.exit_node_allow_lan_access ?? false,
      },
      metrics: {
        listen: c.metrics?.listen == null || c.metrics.listen === '' ? null : c.metrics.listen,
        expose: c.metrics?.expose ?? false,
      },
      nat: {
        port_mapping: c.nat?.port_mapping ?? true,
        relay_rate_mbit: c.nat?.relay_rate_mbit ?? 0,
        relay_member_quota_mb: c.nat?.relay_member_quota_mb ?? 0,
        relay_quota_period: c.nat?.relay_quota_period ?? DEFAULT_RELAY_QUOTA_PERIOD,
      },
      admin: {
        listen: c.admin?.listen ?? [...DEFAULT_ADMIN_LISTEN],
        public: c.admin?.public ?? false,
        auto_lock: c.admin?.auto_lock == null || c.admin.auto_lock === '' ? null : c.admin.auto_lock,
      },
    },
  }
}

/** `[nat] relay_quota_period` when unset: a member's relay quota renews daily. */
export const DEFAULT_RELAY_QUOTA_PERIOD = '24h'

/** `[nat] relay_*` as the mesh node takes them: bytes per second, bytes, ms. */
export function relayLimits(nat: Config['nat']): {
  rateBytesPerSec: number
  quotaBytes: number
  quotaPeriodMs: number
} {
  const period = parseDuration(nat.relay_quota_period)
  return {
    rateBytesPerSec: (nat.relay_rate_mbit * 1e6) / 8,
    quotaBytes: nat.relay_member_quota_mb * 1e6,
    quotaPeriodMs: period.ok ? period.value : 24 * 60 * 60 * 1000,
  }
}

/** `[admin] auto_lock` in ms (null: never). */
export function autoLockMs(text: string | null | undefined): number | null {
  if (text == null || text === '') return null
  const d = parseDuration(text)
  return d.ok ? d.value : null
}

/** Reads `<state>/config.toml` (a missing file is all defaults). Throws ConfigError. */
export async function loadConfig(stateDir: string): Promise<Config> {
  const path = join(stateDir, STATE_FILES.config)
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return ''
    throw new ConfigError(path, '', `cannot be read (${err.code ?? err.message})`)
  })
  const r = parseConfig(text)
  if (!r.ok) throw new ConfigError(path, r.field, r.reason)
  return r.value
}

/**
 * Sets settings in config.toml, keeping the others: a top-level value replaces, a table (object)
 * is merged key by key. Comments in the file are not kept. Throws ConfigError (nothing written).
 */
export async function updateConfig(stateDir: string, values: Record<string, unknown>): Promise<void> {
  const path = join(stateDir, STATE_FILES.config)
  const text = await readFile(path, 'utf8').catch(() => '')
  const raw = text === '' ? {} : (parse(text) as Record<string, unknown>)
  const next: Record<string, unknown> = { ...raw }
  for (const [k, v] of Object.entries(values)) {
    const was = raw[k]
    const table = (x: unknown): x is Record<string, unknown> =>
      x != null && typeof x === 'object' && !Array.isArray(x)
    next[k] = table(v) && table(was) ? { ...was, ...v } : v
  }
  const r = parseConfig(stringify(next))
  if (!r.ok) throw new ConfigError(path, r.field, r.reason)
  await writeFileAtomic(path, stringify(next) + '\n', 0o600)
}
