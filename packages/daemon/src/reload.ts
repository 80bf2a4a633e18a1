/**
 * What a config reload (SIGHUP, `meshlan reload`) can apply to a running daemon and what needs a
 * restart. Live: the log level, MagicDNS, route and exit-node settings, the metrics endpoint. Restart: what the libp2p
 * node or the TUN device is built from (name, listen/announce addresses, relay, the TUN).
 */
import type { Config } from './config.ts'

export interface ConfigChanges {
  /** Settings whose change a reload applies (dotted names as in config.toml). */
  live: string[]
  /** Settings that changed but take effect only after `meshlan down` / `up` (or a service restart). */
  restart: string[]
}

const LIVE = new Set([
  'log_level',
  'relay',
  'dns.enabled',
  'dns.host_integration',
  'metrics.listen',
  'metrics.expose',
])
const LIVE_ADMIN = new Set(['admin.listen', 'admin.public'])
const LIVE_TABLES = new Set(['routes'])

function flatten(c: Config): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(c)) {
    if (v != null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) out.set(`${k}.${k2}`, JSON.stringify(v2))
    } else out.set(k, JSON.stringify(v))
  }
  return out
}

/** The settings that differ between `before` and `after`, split by how they take effect. */
export function configChanges(before: Config, after: Config): ConfigChanges {
  const a = flatten(before)
  const b = flatten(after)
  const live: string[] = []
  const restart: string[] = []
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) === b.get(k)) continue
    if (LIVE.has(k) || LIVE_ADMIN.has(k) || LIVE_TABLES.has(k.split('.')[0])) live.push(k)
    else restart.push(k)
  }
  return { live: live.sort(), restart: restart.sort() }
}
