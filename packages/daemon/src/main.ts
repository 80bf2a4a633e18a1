#!/usr/bin/env node
/**
 * The daemon's entry point: `node packages/daemon/src/main.ts --state DIR` (what `meshlan up`
 * spawns; logs go to stderr, which `meshlan up` points at <state>/daemon.log). Signals, reload,
 * systemd notification and fatal errors: process.ts.
 */
import { runDaemonProcess } from './process.ts'
import { resolveStateDir } from './state.ts'

function stateFlag(argv: string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--state') return argv[i + 1] ?? null
    if (a.startsWith('--state=')) return a.slice('--state='.length)
  }
  return null
}

process.exit(await runDaemonProcess(resolveStateDir(stateFlag(process.argv.slice(2)))))
