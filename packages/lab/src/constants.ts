/** Defaults for @meshlan/lab. Each is named by an Init option or method option with `@default`. */

/** Longest lab prefix; it leads every namespace and interface name (Linux IFNAMSIZ is 16, so 15 chars). */
export const MAX_PREFIX_LENGTH = 6

/** Longest segment, host or router name (namespace names are `<prefix>-<name>`). */
export const MAX_NAME_LENGTH = 24

/** Linux interface names are at most 15 characters. */
export const MAX_IFNAME_LENGTH = 15

/** Time limit for `host.exec()` and the lab's own `ip`/`iptables` commands. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000

/** Largest stdout/stderr `host.exec()` collects. */
export const DEFAULT_EXEC_MAX_BUFFER = 16 * 1024 * 1024

/** How long teardown waits after SIGTERM before it sends SIGKILL to the lab's processes. */
export const DEFAULT_KILL_GRACE_MS = 2_000

/** How much output of one spawned process is kept in memory for `output()`/`waitForOutput()`. */
export const DEFAULT_OUTPUT_KEEP_BYTES = 1024 * 1024

/** Time limit for `waitFor()`/`waitForOutput()`. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000

/** Poll interval for `waitFor()`. */
export const DEFAULT_WAIT_INTERVAL_MS = 50

/** Host offset of the first address auto-assigned to hosts (when the segment has room; else .2, keeping .1 for a router). */
export const HOST_AUTO_OFFSET = 10

/** Host offset a NAT router's LAN address defaults to (the LAN's gateway). */
export const ROUTER_LAN_OFFSET = 1

/** Name server written into each namespace's resolv.conf: the namespace's own loopback. */
export const DEFAULT_NAMESERVER = '127.0.0.1'

/** Where `ip netns exec` finds per-namespace files that it bind-mounts over /etc. */
export const NETNS_ETC_DIR = '/etc/netns'

/** Directory of logs when `logDir` is not given: `<tmpdir>/meshlan-lab-<prefix>`. */
export const DEFAULT_LOG_DIR_NAME = 'meshlan-lab-'
