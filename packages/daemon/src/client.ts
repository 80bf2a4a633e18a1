/**
 * What a client needs to reach a daemon, and nothing that runs a node: the control API types and
 * protocol, the state directory's paths, constants and errors. `@meshlan/daemon/client` — the
 * CLI imports this at start-up and loads the rest (`@meshlan/daemon`: Controller, the daemon
 * process, config parsing) only in the commands that need it, so `meshlan status` does not load
 * libp2p (docs/service.md, start-up of the built CLI).
 */
export type * from './api.ts'
export * from './constants.ts'
export { callControl, ERR_CONTROL_NOT_PERMITTED, isListening, notPermittedMessage } from './control.ts'
export { parseDuration } from './duration.ts'
export * from './errors.ts'
export { type NetworkState, resolveStateDir, StateDir } from './state.ts'

/**
 * Absolute path of the daemon's entry point (what `meshlan up` runs with node): main.ts from the
 * sources; in the built bundle (scripts/build.mjs: this code inside dist/meshlan.mjs) its sibling
 * dist/meshlan-daemon.mjs.
 */
export const DAEMON_ENTRY: string = new URL(
  import.meta.url.endsWith('.mjs') ? './meshlan-daemon.mjs' : './main.ts',
  import.meta.url,
).pathname

/**
 * Node flags the daemon runs with. A 4 MiB young generation instead of V8's default (16–32 MiB,
 * grown under allocation churn): measured in the lab, RSS 160 → 139 MB idle and 230 → ~175 MB
 * under a saturating iperf3, with no loss of throughput. It matters on a 1 GB Raspberry Pi.
 * scripts/meshlan and scripts/bench/meshlan-tools.sh pass the same flag for `up --foreground`.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']
