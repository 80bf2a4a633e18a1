/**
 * Exceptions are for setup failures and programmer errors. Bytes from the network never throw:
 * a bad query is answered FORMERR or dropped and counted.
 */

/** The resolver could not bind one of its listen addresses. */
export class ResolverBindError extends Error {
  static readonly code = 'ERR_RESOLVER_BIND'
  readonly code = 'ERR_RESOLVER_BIND'
  readonly address: string
  readonly port: number
  readonly transport: 'udp' | 'tcp'

  constructor(address: string, port: number, transport: 'udp' | 'tcp', cause: unknown) {
    const why = (cause as { code?: string })?.code ?? String(cause)
    const hint =
      why === 'EACCES'
        ? 'run the daemon as root or grant it CAP_NET_BIND_SERVICE'
        : why === 'EADDRNOTAVAIL'
          ? 'start the resolver after the overlay address is assigned to the interface'
          : why === 'EADDRINUSE'
            ? 'stop whatever already serves DNS on that address or choose another port'
            : 'check the listen address'
    super(`cannot listen for DNS on ${transport} ${address}:${port} (${why}); ${hint}`, { cause })
    this.name = 'ResolverBindError'
    this.address = address
    this.port = port
    this.transport = transport
  }
}

/** A ResolverInit value is unusable (a listen address or upstream that is not an IP, a bad port). */
export class InvalidResolverConfigError extends Error {
  static readonly code = 'ERR_INVALID_RESOLVER_CONFIG'
  readonly code = 'ERR_INVALID_RESOLVER_CONFIG'
  readonly field: string

  constructor(field: string, detail: string) {
    super(`invalid resolver setting ${field}: ${detail}; fix the [dns] configuration`)
    this.name = 'InvalidResolverConfigError'
    this.field = field
  }
}

/** `mode: 'resolved'` was asked for but systemd-resolved cannot be driven on this host. */
export class HostDnsUnavailableError extends Error {
  static readonly code = 'ERR_HOST_DNS_UNAVAILABLE'
  readonly code = 'ERR_HOST_DNS_UNAVAILABLE'
  readonly mode: string

  constructor(mode: string, detail: string) {
    super(
      `host DNS mode ${mode} is not available: ${detail}; set [dns] host_integration = "auto" or "resolvconf", or "off"`,
    )
    this.name = 'HostDnsUnavailableError'
    this.mode = mode
  }
}

/** `apply()` failed; the host configuration was put back as it was before the call. */
export class HostDnsApplyError extends Error {
  static readonly code = 'ERR_HOST_DNS_APPLY'
  readonly code = 'ERR_HOST_DNS_APPLY'
  readonly mode: string

  constructor(mode: string, detail: string, cause?: unknown) {
    super(
      `cannot point the host resolver at meshlan (${mode}): ${detail}; the previous configuration was kept — ` +
        'fix the cause or set [dns] host_integration = "off" and configure DNS by hand',
      { cause },
    )
    this.name = 'HostDnsApplyError'
    this.mode = mode
  }
}

/** `restore()`/`recover()` could not put the host configuration back; the backup was kept. */
export class HostDnsRestoreError extends Error {
  static readonly code = 'ERR_HOST_DNS_RESTORE'
  readonly code = 'ERR_HOST_DNS_RESTORE'
  readonly backupPath: string | null

  constructor(detail: string, backupPath: string | null, target: string, cause?: unknown) {
    const next =
      backupPath == null
        ? 'run `resolvectl revert <interface>` or restart systemd-resolved'
        : `the original is kept in ${backupPath}; copy it back with \`cp ${backupPath} ${target}\``
    super(`cannot restore the host resolver configuration: ${detail}; ${next}`, { cause })
    this.name = 'HostDnsRestoreError'
    this.backupPath = backupPath
  }
}
