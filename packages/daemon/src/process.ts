/**
 * The daemon as a process: what `node packages/daemon/src/main.ts` and `meshlan up --foreground`
 * (the systemd unit's ExecStart) both run.
 *
 * - SIGTERM/SIGINT stop it gracefully; a second signal exits at once.
 * - SIGHUP re-reads config.toml and applies what can change live (reload.ts); a bad file is logged
 *   and changes nothing.
 * - Under systemd (Type=notify) it says READY=1 once the node and the control socket are up,
 *   RELOADING=1 … READY=1 around a reload, STOPPING=1 when it stops (sd_notify(3)).
 * - An uncaught exception or unhandled rejection leaves the daemon in an unknown state: it is
 *   logged, the daemon stops as far as it can within FATAL_CLEANUP_MS (restoring resolv.conf,
 *   removing its socket and pid file) and exits with EXIT_FATAL, so the service manager restarts it.
 */
import { createLogger } from '@meshlan/mesh'
import { sdNotify } from '@meshlan/tun'
import { createDaemon } from './daemon.ts'
import { releaseFilePages } from './heap-trim.ts'

/**
 * Bound on the cleanup after a fatal error: long enough for the node to stop and MagicDNS to
 * restore the host's resolver (a few hundred ms), short enough that a hung cleanup cannot keep a
 * broken daemon from being restarted.
 */
const FATAL_CLEANUP_MS = 5_000
/** Exit code after an uncaught exception or unhandled rejection (1 is a failed start). */
export const EXIT_FATAL = 70 // EX_SOFTWARE: internal software error

/** Runs a daemon on `stateDir` until it stops; returns the process exit code. */
export async function runDaemonProcess(stateDir: string): Promise<number> {
  const log = createLogger('daemon')
  const notify = (msg: string): void => {
    const r = sdNotify(msg)
    if (typeof r === 'string') log.warn('sd_notify failed', { message: msg.split('=')[0], error: r })
  }
  const daemon = createDaemon({ stateDir })
  let signalled = false
  const onSignal = (sig: string): void => {
    if (signalled) process.exit(1)
    signalled = true
    log.info('signal: stopping', { signal: sig })
    notify('STOPPING=1')
    void daemon.stop()
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))
  process.on('SIGHUP', () => {
    log.info('signal: reloading config.toml', { signal: 'SIGHUP' })
    // MONOTONIC_USEC lets systemd (Type=notify-reload, v253+) match the reload; older ones ignore it
    notify(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`)
    daemon
      .reload()
      .catch((err: Error) =>
        log.error('reload failed: config.toml unchanged in effect', { error: err.message }),
      )
      .finally(() => notify('READY=1'))
  })
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
    notify('STOPPING=1')
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
    if (fatal) return EXIT_FATAL // the fault stopped the start: exit as for any fatal error
    log.error('daemon failed to start', { error: (err as Error).message })
    return 1
  }
  notify(`READY=1\nMAINPID=${process.pid}`)
  // start-up's code (the CLI, config, module loading) is not run again: stop counting its pages
  releaseFilePages()
  await daemon.stopped
  return fatal ? EXIT_FATAL : 0
}
