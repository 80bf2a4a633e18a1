/**
 * Every default of @meshlan/dns. Each is named by the Init option that overrides it (`@default`).
 * docs/dns.md describes the zone, the records and the host modes these values shape.
 */

/** The zone meshlan answers for: `<name>.mesh`, `<name>.<network>.mesh` and the bare `mesh`. */
export const MESH_DOMAIN = 'mesh'

/**
 * Port the resolver listens on (UDP and TCP). `ResolverInit.port`; 0 picks a free port.
 * @default 53
 */
export const DEFAULT_DNS_PORT = 53

/**
 * TTL of every A and PTR answer, in seconds. `ResolverInit.ttl`.
 * @default 60
 */
export const DEFAULT_TTL = 60

/**
 * TTL (and SOA minimum) of the SOA record sent with NXDOMAIN and NODATA answers in `.mesh`, so
 * negative answers are cached only briefly: a node that joins is resolvable within this many seconds.
 * `ResolverInit.negativeTtl`.
 * @default 10
 */
export const DEFAULT_NEGATIVE_TTL = 10

/**
 * Queries per second one source IP may send (token-bucket refill rate). `ResolverInit.rateLimit.qps`.
 * @default 100
 */
export const DEFAULT_RATE_LIMIT_QPS = 100

/**
 * Token-bucket size per source IP: the burst a source may send at once. `ResolverInit.rateLimit.burst`.
 * @default 200
 */
export const DEFAULT_RATE_LIMIT_BURST = 200

/**
 * Most source IPs tracked by the rate limiter; past it the least recently seen source is forgotten.
 * `ResolverInit.rateLimit.maxSources`.
 * @default 4096
 */
export const DEFAULT_RATE_LIMIT_SOURCES = 4096

/**
 * How long to wait for one upstream before trying the next, in milliseconds.
 * `ResolverInit.upstreamTimeoutMs`.
 * @default 2000
 */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 2000

/**
 * Most forwarded queries in flight at once; past it a query is answered SERVFAIL and counted as
 * `overloaded`. `ResolverInit.maxInflight`.
 * @default 512
 */
export const DEFAULT_MAX_INFLIGHT = 512

/**
 * Most open TCP connections to the resolver (per listen address); more are refused by the kernel
 * backlog. `ResolverInit.maxTcpConnections`.
 * @default 128
 */
export const DEFAULT_MAX_TCP_CONNECTIONS = 128

/** Port assumed for an upstream written without one. */
export const DEFAULT_UPSTREAM_PORT = 53

/** UDP payload size assumed for a query without EDNS (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_PAYLOAD = 512

/** Bytes in a DNS message header. */
export const DNS_HEADER_BYTES = 12

/**
 * Mode of host resolver integration. `HostDnsInit.mode`.
 * @default 'auto'
 */
export const DEFAULT_HOST_MODE = 'auto'

/**
 * The host's resolver configuration file. `HostDnsInit.resolvConfPath`.
 * @default '/etc/resolv.conf'
 */
export const DEFAULT_RESOLV_CONF = '/etc/resolv.conf'

/**
 * The stub file systemd-resolved maintains while it runs; its presence means resolved is active.
 * `HostDnsInit.resolvedStubPath`.
 * @default '/run/systemd/resolve/stub-resolv.conf'
 */
export const DEFAULT_RESOLVED_STUB = '/run/systemd/resolve/stub-resolv.conf'

/** Addresses of the systemd-resolved stub listeners; a resolv.conf naming one is managed by resolved. */
export const RESOLVED_STUB_ADDRESSES = ['127.0.0.53', '127.0.0.54']

/** File (in the state directory) holding the byte-for-byte copy of resolv.conf while meshlan manages it. */
export const RESOLV_CONF_BACKUP = 'resolv.conf.meshlan-backup'

/** File (in the state directory) recording what `apply()` changed, for `restore()` and `recover()`. */
export const HOST_DNS_STATE = 'dns-host.json'

/** First line of a resolv.conf written by meshlan. */
export const RESOLV_CONF_HEADER = '# managed by meshlan; restored on `meshlan down`'

/**
 * Original nameservers kept after the meshlan resolver in a managed resolv.conf, so the host still
 * resolves if the daemon dies without restoring (glibc reads at most 3 nameservers).
 * `HostDnsInit.fallbackNameservers`.
 * @default 2
 */
export const DEFAULT_FALLBACK_NAMESERVERS = 2

/** UDP payload size we advertise in our OPT record: the DNS flag day 2020 value, safe from fragmentation. */
export const OUR_UDP_PAYLOAD = 1232

/**
 * Binding port 0: times to retry when the free port UDP got is taken for TCP (another program
 * holds it); each try is a fresh pair of sockets, and a clash twice in a row is already rare.
 */
export const PORT_ZERO_BIND_ATTEMPTS = 8

/** Debug lines about events a flood can trigger (rate limited, malformed): at most one a second each. */
export const NOISY_LOG_INTERVAL_MS = 1000

/**
 * SOA timers of the `.mesh` zone (seconds). No secondary ever transfers the zone, so only `minimum`
 * (the negative TTL) matters; these are the customary RFC 1912 values for the rest.
 */
export const SOA_REFRESH_S = 3600
export const SOA_RETRY_S = 600
export const SOA_EXPIRE_S = 86400

/** A host command (resolvectl) that has not finished after this long is killed: resolved answers in ms, a hung one must not hang `up`. */
export const COMMAND_TIMEOUT_MS = 10_000
