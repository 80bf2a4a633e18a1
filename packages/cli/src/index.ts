/**
 * @meshlan/cli — the `meshlan` command line.
 *
 * - `run(argv)` runs one command and returns its exit code (0 success, 1 failure).
 * - `buildProgram()` is the commander program (for completion and docs).
 * - `Client` reaches a node: the daemon's control socket when it runs, else the controller offline.
 */
export { Client } from './client.ts'
export { buildProgram, run, UsageError } from './program.ts'
