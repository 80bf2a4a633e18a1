#!/usr/bin/env node
/**
 * The daemon's entry point: `node packages/daemon/src/main.ts --state DIR`.
 * Logs go to stderr (`meshlan up` points stderr at <state>/daemon.log). SIGTERM/SIGINT stop it
 * gracefully; a second signal exits at once.
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
process.on('uncaughtException', (err) => {
  log.error('uncaught exception', { error: err.stack ?? err.message })
})
process.on('unhandledRejection', (err) => {
  log.error('unhandled rejection', { error: (err as Error)?.stack ?? String(err) })
})

try {
  await daemon.start()
} catch (err) {
  log.error('daemon failed to start', { error: (err as Error).message })
  process.exit(1)
}
await daemon.stopped
process.exit(0)
