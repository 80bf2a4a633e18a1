/**
 * The daemon's V8 flags have one definition in TypeScript (DAEMON_NODE_FLAGS, used when the CLI
 * spawns the daemon) and one line in scripts/meshlan (NODE_FLAGS, used by `up --foreground` from a
 * checkout, by scripts/install.sh's wrapper and by the benchmarks through scripts/lib/node-flags.sh).
 * They must not drift: a daemon under systemd would otherwise run with other flags than the one
 * every measurement was made with. The same holds for its environment (DAEMON_ENV, the DAEMON_ENV
 * line, node_env).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../src/index.ts'

const root = join(import.meta.dirname, '../../..')

/** The words of scripts/meshlan's `NAME="..."` line. */
function meshlanLine(name: string): string[] {
  const line = readFileSync(join(root, 'scripts/meshlan'), 'utf8').match(new RegExp(`^${name}="(.*)"$`, 'm'))
  assert.ok(line, `scripts/meshlan has a ${name}="..." line`)
  return line[1].split(/\s+/).filter(Boolean)
}

/** What a function of scripts/lib/node-flags.sh prints for this tree, as words. */
function nodeFlagsSh(fn: string): string[] {
  const out = execFileSync('bash', ['-c', `source "${root}/scripts/lib/node-flags.sh" && ${fn} "${root}"`], {
    encoding: 'utf8',
  })
  return out.trim().split(/\s+/)
}

test('scripts/meshlan NODE_FLAGS equals DAEMON_NODE_FLAGS', () => {
  assert.deepEqual(meshlanLine('NODE_FLAGS'), [...DAEMON_NODE_FLAGS])
})

test('scripts/lib/node-flags.sh reads the same list (what install.sh and the benchmarks use)', () => {
  assert.deepEqual(nodeFlagsSh('node_flags'), [...DAEMON_NODE_FLAGS])
})

test('every flag is one this Node accepts', () => {
  // node exits non-zero on an unknown V8 or Node flag: a typo would stop every daemon at start
  execFileSync(process.execPath, [...DAEMON_NODE_FLAGS, '-e', '0'])
})

test('scripts/meshlan DAEMON_ENV equals DAEMON_ENV, and node_env reads it', () => {
  const want = Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`)
  assert.deepEqual(meshlanLine('DAEMON_ENV'), want)
  assert.deepEqual(nodeFlagsSh('node_env'), want)
})
