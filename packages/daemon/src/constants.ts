/**
 * Every default of the daemon and the state directory, in one place. Mesh-level defaults (port,
 * MTU, TUN name) come from @meshlan/mesh and are never copied here.
 */
import { DEFAULT_LISTEN as MESH_DEFAULT_LISTEN } from '@meshlan/mesh/constants'
import pkg from '../package.json' with { type: 'json' }

/** The daemon's version (its package's): in `info`, in its node record, in every member's status. */
export const VERSION: string = pkg.version

/** State directory when neither --state nor MESHLAN_STATE is given. */

export const DEFAULT_STATE_DIR = '/var/lib/meshlan'
/** Environment variable naming the state directory. */
export const STATE_ENV = 'MESHLAN_STATE'
/** Overrides where the control socket is (daemon and CLI alike). */
export const SOCKET_ENV = 'MESHLAN_SOCKET'
/**
 * The service's runtime directory (the unit's RuntimeDirectory=meshlan). With the default state
 * directory the control socket lives here when it exists: the state directory is 0700, and
 * members of the `meshlan` group must reach the socket to run read-only commands.
 */
export const RUNTIME_DIR = '/run/meshlan'
/** Groups the control socket serves (install.sh creates them): read-only commands, and everything. */
export const CONTROL_GROUP = 'meshlan'
export const CONTROL_ADMIN_GROUP = 'meshlan-admin'
/** Overrides the two group names, `READ,ADMIN` (hosts with other conventions; tests). */
export const CONTROL_GROUPS_ENV = 'MESHLAN_CONTROL_GROUPS'

/** Files of the state directory. */
export const STATE_FILES = {
  identity: 'identity.key',
  config: 'config.toml',
  network: 'network.json',
  policy: 'policy.bin',
  records: 'records.json',
  pid: 'daemon.pid',
  log: 'daemon.log',
  socket: 'control.sock',
} as const

/** Default listen addresses: every IPv4 and IPv6 interface on the mesh's default port (mesh's). */
export const DEFAULT_LISTEN: readonly string[] = MESH_DEFAULT_LISTEN

/** Known records are written this often (and on stop) so a restart finds its peers. */
export const RECORDS_SAVE_MS = 30_000
/**
 * The heap trim (heap-trim.ts) looks back over this long: start-up is over within seconds, and
 * half a minute without traffic says a transfer has ended while its garbage is still fresh.
 */
export const HEAP_TRIM_CHECK_MS = 30_000
/**
 * The heap trim samples the CPU this often within a period (in the node's heartbeat, so no wake-up
 * of its own): a transfer that starts a second before a 30 s period ends barely moves that
 * period's share, and a collection then stalled a relayed transfer's start (NAT lab, session 16).
 */
export const HEAP_TRIM_SAMPLE_MS = 4_000
/**
 * Quiet, for the heap trim: less than this share of one core over the period. An idle daemon uses
 * 0.2–0.4 % (docs/benchmarks.md, Idle cost); one carrying a transfer, tens of percent. A slow Pi
 * idles higher, and 5 % still tells the two apart.
 */
export const HEAP_TRIM_QUIET_CPU = 0.05
/**
 * After a busy period the heap trim collects only if the heap grew this much since its last
 * collection: a short burst that allocated little is not worth a collection (V8's last-resort
 * collection of an idle daemon's ~17 MB heap took 33–60 ms of CPU).
 */
export const HEAP_TRIM_MIN_GROWTH_BYTES = 2 * 1024 * 1024
/**
 * Collections in one trim, one per quiet period: V8 drops the bytecode of a function that has not
 * run through this many last-resort collections in a row (test/heap-trim.test.ts checks it of this
 * Node), so the third frees what start-up ran once (CLI, config, set-up: an idle daemon's trusted
 * space 3.0 → 1.9 MB, RSS 2–3 MB lower in `mem.sh`); a fourth freed nothing more. Code that runs
 * again is compiled again on its next call.
 */
export const HEAP_TRIM_ROUNDS = 3
/**
 * The buffer collection (buffer-collect.ts) looks at the array buffers' bytes this often, in the
 * node's heartbeat (no wake-up of its own; a look is a ~2 µs counter read). It is also the most
 * often it collects: one incremental major collection of a ~23 MB heap per 4 s is under 1 % of a
 * core, against the 1.1 MB/s of promoted socket buffers it frees.
 */
export const BUFFER_COLLECT_SAMPLE_MS = 4_000
/**
 * A collection when the array buffers' bytes grew this much above their lowest since the last
 * one. A loaded receiver holds 7–15 MB of them in flight (docs/benchmarks.md, "Session 18"); left
 * to V8, promoted ones piled up to ~41 MB before its first major collection, and the receiver's
 * loaded peak was 110–114 MB in the anchors runs; 16 MiB above the low made it 97–99 MB, 8 MiB
 * 89 MB, with two collections in a 69 s run and CPU per GB unchanged. Less would collect for the
 * in-flight bytes' own swings (up to ~8 MB).
 */
export const BUFFER_COLLECT_GROWTH_BYTES = 8 * 1024 * 1024
/** How long `up` waits for a spawned daemon's socket to answer. */
export const DAEMON_START_TIMEOUT_MS = 15_000
/** How long `down` waits for the daemon process to exit. */
export const DAEMON_STOP_TIMEOUT_MS = 15_000
/** A control request without an answer for this long fails. */
export const CONTROL_TIMEOUT_MS = 30_000
/** Longest control request line accepted by the daemon. */
export const MAX_CONTROL_LINE_BYTES = 1024 * 1024
/** Lines of daemon.log shown when a start fails. */
export const LOG_TAIL_LINES = 20

/**
 * `[tun] mtu` bounds. 576 is the datagram size every IPv4 host must accept (RFC 791), so nothing
 * ordinary needs fragmenting below it; 9000 is the usual jumbo frame, the largest underlay an
 * overlay packet (inside TCP) could ride without being split anyway.
 */
export const MIN_TUN_MTU = 576
export const MAX_TUN_MTU = 9000
/** `[tun] name`: IFNAMSIZ - 1, the kernel's limit (tun checks it again at open). */
export const MAX_TUN_NAME_LEN = 15
