/**
 * A lab of real meshlan nodes: each host in its own network namespace runs the real CLI and
 * daemon (`packages/cli/src/main.ts`) with its own state directory, exactly as a user would.
 * Used by the end-to-end tests, the demo and the benchmarks; never by the product.
 */
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLab, type ExecResult, type Host, type Lab, waitFor } from '@meshlan/lab'
import type { NodeStatus } from '@meshlan/mesh'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const CLI_MAIN = join(REPO_ROOT, 'packages/cli/src/main.ts')

export class CliError extends Error {
  readonly result: ExecResult
  constructor(args: readonly string[], result: ExecResult) {
    super(`meshlan ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`)
    this.name = 'CliError'
    this.result = result
  }
}

export class MeshHost {
  readonly host: Host
  readonly name: string
  readonly state: string

  constructor(host: Host, name: string, state: string) {
    this.host = host
    this.name = name
    this.state = state
  }

  /** Runs `meshlan --state <dir> ...args` inside this host's namespace. */
  run(
    args: readonly string[],
    opts: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<ExecResult> {
    return this.host.exec(process.execPath, [CLI_MAIN, '--state', this.state, ...args], {
      timeoutMs: opts.timeoutMs ?? 30_000,
      env: { ...process.env, MESHLAN_LOG: process.env.MESHLAN_LOG ?? 'info', ...opts.env },
    })
  }

  /** Like run(), but a non-zero exit throws CliError. Returns stdout. */
  async cli(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, opts)
    if (r.code !== 0) throw new CliError(args, r)
    return r.stdout
  }

  async json<T = unknown>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.cli([...args, '--json'])) as T
  }

  async status(): Promise<Status> {
    return this.json<Status>(['status'])
  }

  /** Adds settings to this node's config.toml (before `up`; keeps what `init` wrote). */
  config(toml: string): void {
    appendFileSync(join(this.state, 'config.toml'), toml.endsWith('\n') ? toml : `${toml}\n`)
  }

  writeFile(name: string, text: string): string {
    const p = join(this.state, '..', `${this.name}-${name}`)
    writeFileSync(p, text)
    return p
  }

  exec(cmd: string, args: readonly string[] = [], timeoutMs = 30_000): Promise<ExecResult> {
    return this.host.exec(cmd, args, { timeoutMs })
  }
}

/** `meshlan status --json`: exactly the node's status object. */
export type Status = NodeStatus

export interface MeshLab {
  lab: Lab
  nodes: Map<string, MeshHost>
  node(name: string): MeshHost
  dir: string
  teardown(): Promise<void>
}

/**
 * A lab of meshlan hosts. By default one LAN segment with the named hosts on it; `build` makes any
 * other topology (NAT routers, several segments) and returns the hosts that run meshlan.
 */
export async function createMeshLab(init: {
  prefix: string
  hosts?: string[]
  cidr?: string
  build?: (lab: Lab) => Promise<Host[]>
}): Promise<MeshLab> {
  const lab = await createLab({ prefix: init.prefix })
  const dir = mkdtempSync(join(tmpdir(), `meshlan-${init.prefix}-`))
  const nodes = new Map<string, MeshHost>()
  try {
    let hosts: Host[]
    if (init.build != null) {
      hosts = await init.build(lab)
    } else {
      await lab.addSegment('lan', { cidr: init.cidr ?? '198.18.20.0/24' })
      hosts = []
      for (const name of init.hosts ?? []) hosts.push(await lab.addHost(name, { segment: 'lan' }))
    }
    for (const host of hosts) {
      const state = join(dir, host.name, 'state')
      mkdirSync(state, { recursive: true, mode: 0o700 })
      nodes.set(host.name, new MeshHost(host, host.name, state))
    }
  } catch (err) {
    await lab.teardown()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    lab,
    nodes,
    dir,
    node(name) {
      const n = nodes.get(name)
      if (n == null) throw new Error(`no node ${name}`)
      return n
    },
    async teardown() {
      // MESHLAN_E2E_LOGS=DIR keeps every daemon's log (for a failing CI run)
      const keep = process.env.MESHLAN_E2E_LOGS
      if (keep != null && keep !== '') {
        mkdirSync(keep, { recursive: true })
        for (const n of nodes.values()) {
          try {
            copyFileSync(join(n.state, 'daemon.log'), join(keep, `${init.prefix}-${n.name}.log`))
          } catch {}
        }
      }
      await Promise.all(
        [...nodes.values()].map((n) => n.run(['down'], { timeoutMs: 10_000 }).catch(() => {})),
      )
      await lab.teardown()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Owner + members: the owner creates the network and the keys, each member joins with its key,
 * everybody is up and sees everybody. Returns the join strings.
 */
export async function formMesh(
  ml: MeshLab,
  opts: {
    owner: string
    network?: string
    keys: Record<string, unknown>
    members: Record<string, string>
    /** config.toml per node, written before its `up` */
    config?: Record<string, string>
  },
): Promise<Record<string, string>> {
  const owner = ml.node(opts.owner)
  await owner.cli(['init', '--name', opts.owner])
  await owner.cli(['network', 'create', opts.network ?? 'demo'])
  for (const [name, toml] of Object.entries(opts.config ?? {})) ml.node(name).config(toml)
  await owner.cli(['up'])
  const joins: Record<string, string> = {}
  for (const [key, acl] of Object.entries(opts.keys)) {
    const args = ['key', 'create', key, '--reusable']
    // a key without an ACL reaches nothing (default deny): null here means "everything"
    if (acl != null) args.push('--acl', owner.writeFile(`${key}.acl.json`, JSON.stringify(acl)))
    else args.push('--allow-all')
    joins[key] = (await owner.cli(args)).trim()
  }
  for (const [name, key] of Object.entries(opts.members)) {
    const n = ml.node(name)
    await n.cli(['join', joins[key], '--name', name])
    await n.cli(['up'])
  }
  const all = [opts.owner, ...Object.keys(opts.members)]
  await waitFor(
    async () => {
      for (const name of all) {
        const s = await ml.node(name).status()
        // bound: the owner fixed every name and address (a provisional one could still change)
        if (s.self.ip == null || !s.self.bound || s.peers.length < all.length - 1) return false
        if (s.peers.some((p) => !p.bound)) return false
      }
      return true
    },
    { timeoutMs: 30_000, intervalMs: 250, what: 'every node to see every other node' },
  )
  return joins
}

export async function ipOf(n: MeshHost): Promise<string> {
  const s = await n.status()
  if (s.self.ip == null) throw new Error(`${n.name} has no overlay address`)
  return s.self.ip
}
