/**
 * Crash-safe state writes: a writer killed with SIGKILL at random points (seeded: set
 * MESHLAN_SEED to replay, MESHLAN_KILL_ITERATIONS for more rounds) always leaves the old file or
 * the new one, never an empty or partial one; concurrent writers never share a temp file.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { prng } from '@meshlan/testkit'
import { parseConfig } from '../src/config.ts'
import { StateDir, writeFileAtomic } from '../src/state.ts'
import { ATOMIC_SIZE, CONFIG_NAMES } from './fixtures/state-writer.ts'

const WRITER = fileURLToPath(new URL('./fixtures/state-writer.ts', import.meta.url))
const SEED = Number(process.env.MESHLAN_SEED ?? Math.floor(Math.random() * 2 ** 31))
const ITERATIONS = Number(process.env.MESHLAN_KILL_ITERATIONS ?? 16)
/** Kill within this long after the writer is ready: covers many whole write cycles. */
const MAX_KILL_DELAY_MS = 120

/** Starts the writer, kills it with SIGKILL `delayMs` after it said "ready", waits for its exit. */
function killWriterAfter(mode: string, dir: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', WRITER, mode, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c) => {
      stderr += c
    })
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), delayMs))
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve()
      else reject(new Error(`the writer exited by itself (code ${code}): ${stderr}`))
    })
  })
}

describe('state writes survive kill -9 at any point', { concurrency: true }, () => {
  let root: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-crash-'))
    console.log(`state-crash: seed ${SEED} (MESHLAN_SEED=${SEED} replays), ${ITERATIONS} kills per writer`)
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('writeFileAtomic: always all A or all B', async () => {
    const dir = await mkdtemp(join(root, 'atomic-'))
    const random = prng(SEED) // one stream per test: they run concurrently
    await writeFile(join(dir, 'file'), Buffer.alloc(ATOMIC_SIZE, 'A'))
    for (let i = 0; i < ITERATIONS; i++) {
      const delay = Math.floor(random() * MAX_KILL_DELAY_MS)
      await killWriterAfter('atomic', dir, delay)
      const b = await readFile(join(dir, 'file'))
      assert.equal(b.length, ATOMIC_SIZE, `kill ${i} after ${delay} ms (seed ${SEED}): ${b.length} bytes`)
      assert.ok(
        b.every((x) => x === b[0]),
        `kill ${i} after ${delay} ms (seed ${SEED}): mixed content`,
      )
    }
  })

  it('config.toml (updateConfig): always parses and holds one of the two names', async () => {
    const dir = await mkdtemp(join(root, 'config-'))
    const random = prng(SEED + 1)
    await writeFile(join(dir, 'config.toml'), `name = "${CONFIG_NAMES[0]}"\n`)
    for (let i = 0; i < ITERATIONS; i++) {
      const delay = Math.floor(random() * MAX_KILL_DELAY_MS)
      await killWriterAfter('config', dir, delay)
      const text = await readFile(join(dir, 'config.toml'), 'utf8')
      const r = parseConfig(text)
      assert.ok(
        r.ok,
        `kill ${i} after ${delay} ms (seed ${SEED}): config does not parse: ${JSON.stringify(text)}`,
      )
      assert.ok(
        CONFIG_NAMES.includes(r.value.name),
        `kill ${i} after ${delay} ms (seed ${SEED}): name ${JSON.stringify(r.value.name)}`,
      )
    }
  })

  it('identity.key: absent (made again on start) or a whole key, never empty', async () => {
    const dir = await mkdtemp(join(root, 'identity-'))
    const random = prng(SEED + 2)
    const state = new StateDir(dir)
    for (let i = 0; i < ITERATIONS; i++) {
      const delay = Math.floor(random() * MAX_KILL_DELAY_MS)
      await killWriterAfter('identity', dir, delay)
      // loadIdentity throws StateError ("is damaged") on an empty or partial key
      await state.loadIdentity()
    }
    const left = (await readdir(dir)).filter((f) => f !== 'identity.key' && !f.endsWith('.tmp'))
    assert.deepEqual(left, [], 'only identity.key and crash-orphaned temp files')
  })

  it('concurrent writers of one file each use their own temp file', async () => {
    const dir = await mkdtemp(join(root, 'concurrent-'))
    const path = join(dir, 'file')
    const versions = Array.from({ length: 32 }, (_, i) => `version ${i}\n`.repeat(1000))
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)))
    assert.ok(versions.includes(await readFile(path, 'utf8')))
    assert.deepEqual(await readdir(dir), ['file'], 'no temp file left behind')
  })
})
