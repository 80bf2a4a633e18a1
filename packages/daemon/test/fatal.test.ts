/**
 * An uncaught exception or unhandled rejection makes the daemon clean up (socket, pid file) and
 * exit non-zero, so the service manager restarts it, instead of running on in an unknown state.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DAEMON_ENTRY } from '../src/index.ts'

const FAULT = fileURLToPath(new URL('./fixtures/fault-after-start.ts', import.meta.url))
/** The daemon must be gone well within this (start ~1-2 s + FATAL_CLEANUP_MS bound). */
const EXIT_WITHIN_MS = 15_000

function runDaemon(state: string, fault: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', FAULT, DAEMON_ENTRY, '--state', state],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MESHLAN_TEST_FAULT: fault } },
    )
    let stderr = ''
    child.stderr.on('data', (c) => {
      stderr += c
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WITHIN_MS)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
}

describe('daemon: fatal errors exit non-zero after a bounded cleanup', () => {
  let root: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-fatal-'))
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  for (const [fault, logged] of [
    ['throw', /uncaught exception: stopping and exiting/],
    ['reject', /unhandled rejection: stopping and exiting/],
    // the fault arrives while start() is still running: the start stops, nothing is left behind
    ['early', /uncaught exception: stopping and exiting/],
  ] as const) {
    it(`${fault}: logged, socket and pid file removed, exit code 70`, async () => {
      const state = await mkdtemp(join(root, `${fault}-`))
      await writeFile(
        join(state, 'config.toml'),
        'listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n',
      )
      const r = await runDaemon(state, fault)
      assert.equal(r.code, 70, `the daemon did not exit by itself with 70 (code ${r.code}):\n${r.stderr}`)
      assert.match(r.stderr, logged)
      assert.match(r.stderr, /daemon stopped/, 'the cleanup (daemon.stop) ran')
      assert.equal(existsSync(join(state, 'daemon.pid')), false, 'pid file removed')
      assert.equal(existsSync(join(state, 'control.sock')), false, 'socket removed')
    })
  }
})
