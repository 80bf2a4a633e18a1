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
 * Node flags the daemon runs with. A 1 MiB young generation (semi-space) instead of V8's default
 * (16–32 MiB, grown under allocation churn). Each 64 KiB of tunnel data leaves a socket read
 * buffer and a sealed message outside the heap that are freed only when a scavenge collects their
 * small wrappers; a smaller young generation scavenges sooner. Measured (docs/benchmarks.md,
 * "Session 9"): against 4 MiB, idle 99 → 95 MB and the loaded peak 128 → 117 MB with throughput
 * kept; 4 MiB against the default had been 160 → 139 MB idle. It matters on a 1 GB Raspberry Pi.
 * `--expose-gc`: the heap trim (heap-trim.ts) asks for a full collection when the daemon has gone
 * quiet, which V8 on its own does not do ("Session 15").
 * scripts/meshlan holds the same list for `up --foreground` (NODE_FLAGS; install.sh and the
 * benchmarks read it there); test/node-flags.test.ts keeps the two equal.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc']

/**
 * Environment the daemon runs with. `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates
 * (V8's workers, libuv's pool: Noise, the file system) an arena of its own, up to 8 per core, and
 * each keeps what was freed in it; two arenas share that slack. Measured (docs/benchmarks.md,
 * "Session 13"): two runs of three alternating rounds, idle 89–92 → 86–89 MB and the loaded peak
 * 104–118 → 99–109 MB, throughput unchanged. glibc reads it once, before `main`: it must be in the
 * environment the process starts with. scripts/meshlan holds the same (DAEMON_ENV; install.sh
 * writes it into the installed wrapper); test/node-flags.test.ts keeps them equal.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' }
