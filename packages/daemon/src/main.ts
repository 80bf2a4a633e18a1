#!/usr/bin/env node
/**
 * The daemon's entry point: `node packages/daemon/src/main.ts --state DIR`.
 * Logs go to stderr (`meshlan up` points stderr at <state>/daemon.log). SIGTERM/SIGINT stop it
 * gracefully; a second signal exits at once. An uncaught exception or unhandled rejection leaves
 * the daemon in an unknown state: it is logged, the daemon stops as far as it can within
 * FATAL_CLEANUP_MS (restoring resolv.conf, removing its socket and pid file) and exits with
 * EXIT_FATAL, so the service manager restarts it.
 */
import { createLogger } from '@meshlan/mesh'
import { createDaemon } from './daemon.ts'
import { resolveStateDir } from './state.ts'

function stateFlag(argv: string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--state') return argv[i + 1] ?? null
    if (a.startsWith('--state=')) return a.slice('--state='.length)
  }
  return null
}

/**
 * Bound on the cleanup after a fatal error: long enough for the node to stop and MagicDNS to
 * restore the host's resolver (a few hundred ms), short enough that a hung cleanup cannot keep a
 * broken daemon from being restarted.
 */
const FATAL_CLEANUP_MS = 5_000
/** Exit code after an uncaught exception or unhandled rejection (1 is a failed start). */
const EXIT_FATAL = 70 // EX_SOFTWARE: internal software error

const log = createLogger('daemon')
const daemon = createDaemon({ stateDir: resolveStateDir(stateFlag(process.argv.slice(2))) })
let signalled = false
const onSignal = (sig: string): void => {
  if (signalled) process.exit(1)
  signalled = true
  log.info('signal: stopping', { signal: sig })
  void daemon.stop()
}
process.on('SIGTERM', () => onSignal('SIGTERM'))
process.on('SIGINT', () => onSignal('SIGINT'))
let fatal = false
const onFatal = (what: string, err: unknown): void => {
  const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
  if (fatal) {
    // a second fault while cleaning up: give up on the cleanup
    log.error(`${what} during the cleanup: exiting now`, { error })
    process.exit(EXIT_FATAL)
  }
  fatal = true
  process.exitCode = EXIT_FATAL // also when the loop empties before the cleanup finishes
  log.error(`${what}: stopping and exiting so the service manager restarts the daemon`, { error })
  setTimeout(() => {
    log.error('cleanup after the fatal error did not finish: exiting anyway', { ms: FATAL_CLEANUP_MS })
    process.exit(EXIT_FATAL)
  }, FATAL_CLEANUP_MS)
  daemon
    .stop()
    .catch((e: unknown) => log.error('cleanup after the fatal error failed', { error: String(e) }))
    .finally(() => process.exit(EXIT_FATAL))
}
process.on('uncaughtException', (err) => onFatal('uncaught exception', err))
process.on('unhandledRejection', (err) => onFatal('unhandled rejection', err))

try {
  await daemon.start()
} catch (err) {
  log.error('daemon failed to start', { error: (err as Error).message })
  process.exit(1)
}
await daemon.stopped
if (!fatal) process.exit(0)
