/**
 * The browser test's mesh: daemons on loopback (no TUN, no namespaces), driven through
 * scripts/meshlan as a user would, each in its own state directory under one temp dir.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MESHLAN = fileURLToPath(new URL('../../../scripts/meshlan', import.meta.url))
/** Loopback only, no TUN: the admin and the mesh work the same without a data plane. */
export const NODE_CONFIG = 'listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n'

export interface Run {
  code: number
  stdout: string
  stderr: string
}

export function meshlan(state: string, args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      MESHLAN,
      ['--state', state, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err == null ? 0 : typeof err.code === 'number' ? err.code : 1
        resolve({ code, stdout, stderr })
      },
    )
    child.stdin?.end(stdin ?? '')
  })
}

export async function ok(state: string, ...args: string[]): Promise<string> {
  const r = await meshlan(state, args)
  assert.equal(r.code, 0, `meshlan ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

export async function okJson<T>(state: string, ...args: string[]): Promise<T> {
  return JSON.parse(await ok(state, ...args, '--json')) as T
}

export async function until<T>(fn: () => Promise<T | null | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a != null ? a.port : 0))
    })
  })
}

export async function nodeDir(root: string, name: string, extra = ''): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await writeFile(join(dir, 'config.toml'), NODE_CONFIG + extra)
  return dir
}

/** Stops a daemon: `meshlan down`, then SIGKILL whatever pid is left (a failed test still cleans up). */
export async function stopNode(dir: string): Promise<void> {
  await meshlan(dir, ['down'])
  const pid = Number((await readFile(join(dir, 'daemon.pid'), 'utf8').catch(() => '')).trim())
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
}

/** A TOTP code from Debian's oathtool, `offsetS` from now (a code is accepted once per 30 s step). */
export function oathtool(secret: string, offsetS = 0): Promise<string> {
  const at = new Date(Date.now() + offsetS * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
  return new Promise((resolve, reject) =>
    execFile('oathtool', ['--totp', '-b', secret, '-N', at], (err, stdout) =>
      err ? reject(err) : resolve(stdout.trim()),
    ),
  )
}
