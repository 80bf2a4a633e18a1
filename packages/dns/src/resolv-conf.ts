/**
 * resolv.conf(5) reading and the file meshlan writes in its place. Pure text functions; never throw.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { RESOLV_CONF_HEADER, RESOLVED_STUB_ADDRESSES } from './constants.ts'

export interface ResolvConf {
  /** `nameserver` values in file order (only IP literals; anything else is skipped). */
  nameservers: string[]
  /** `search`, `domain` and `sortlist` lines, verbatim, in file order. */
  searchLines: string[]
  /** Every word of every `options` line, in order. */
  options: string[]
  /** True when the file carries meshlan's header (meshlan wrote it). */
  managedByMeshlan: boolean
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], searchLines: [], options: [], managedByMeshlan: false }
  for (const rawLine of text.split(/\r?\n/)) {
    if (rawLine.startsWith(RESOLV_CONF_HEADER)) out.managedByMeshlan = true
    const line = rawLine.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const words = line.split(/\s+/)
    const key = words[0]
    if (key === 'nameserver' && words.length >= 2) {
      const ns = words[1]
      if (isIPv4(ns) || isIPv6(ns.split('%')[0])) out.nameservers.push(ns)
    } else if (key === 'search' || key === 'domain' || key === 'sortlist') {
      out.searchLines.push(line)
    } else if (key === 'options') {
      out.options.push(...words.slice(1))
    }
  }
  return out
}

/** True when the resolv.conf sends queries to the systemd-resolved stub first. */
export function usesResolvedStub(conf: ResolvConf): boolean {
  return conf.nameservers.length > 0 && RESOLVED_STUB_ADDRESSES.includes(conf.nameservers[0])
}

/**
 * The resolv.conf meshlan writes: its resolver first, then up to `fallbacks` of the original
 * nameservers (so the host keeps resolving if the daemon dies without restoring), the original
 * `search`/`domain`/`sortlist` lines and `options` — minus `rotate`, which would send `.mesh`
 * questions to the fallbacks.
 */
export function renderManagedResolvConf(init: {
  resolverIp: string
  original: ResolvConf
  fallbacks: string[]
  backupPath: string
}): string {
  const lines = [
    RESOLV_CONF_HEADER,
    `# The original is saved in ${init.backupPath}; meshlan writes it back when it stops.`,
    `nameserver ${init.resolverIp}`,
    ...init.fallbacks.map((n) => `nameserver ${n}`),
    ...init.original.searchLines,
  ]
  const options = init.original.options.filter((o) => o !== 'rotate')
  if (options.length > 0) lines.push(`options ${options.join(' ')}`)
  return lines.join('\n') + '\n'
}
