/**
 * The state directory: identity, config, network membership, the newest policy, known records,
 * and the daemon's pid, log and control socket. Files holding secrets are 0600, the directory 0700;
 * every write goes through writeFileAtomic: a kill -9 or a power cut at any point leaves the old
 * file or the new one, never an empty or partial one.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, constants as fsConstants } from 'node:fs'
import { chmod, link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { NotInitializedError } from '@meshlan/mesh/errors'
import { fromBase64, toBase64 } from '@meshlan/wire/encoding'
import { DEFAULT_STATE_DIR, RUNTIME_DIR, SOCKET_ENV, STATE_ENV, STATE_FILES } from './constants.ts'
import { StateError } from './errors.ts'

/** What `network.json` holds: which network this node is in and how it got there. */
export interface NetworkState {
  networkId: string
  /** Peer id of the network owner. */
  owner: string
  role: 'owner' | 'member'
  /** Mesh key this node joined with (null on the owner). */
  keyName: string | null
  /** Multiaddrs (with /p2p/) to contact first. */
  bootstrap: string[]
  /** Membership claim (base64 envelope); null on the owner. The mesh key secret is never stored. */
  claim: string | null
  /** The join string's first policy version: older policies are refused as stale copies. */
  minPolicyVersion?: number
}

/**
 * libp2p's key code and the network.json schema load on first use: a client that only talks to
 * the control socket (`meshlan status`) never needs them, and they are most of its start-up.
 */
const keys = () => import('@libp2p/crypto/keys')
const peerIds = () => import('@libp2p/peer-id')

/** --state, else $MESHLAN_STATE, else DEFAULT_STATE_DIR; always absolute. */
export function resolveStateDir(flag?: string | null): string {
  return resolve(flag ?? process.env[STATE_ENV] ?? DEFAULT_STATE_DIR)
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new StateError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`)
  }
}

export interface WriteFileAtomicOptions {
  /**
   * Create the file only if it does not exist yet (link instead of rename: atomic and never
   * replaces). Rejects with an `EEXIST` error when another writer got there first.
   * @default false
   */
  exclusive?: boolean
}

/**
 * Writes `data` to `path` crash-safely: a temp file unique to this writer (pid + random, so
 * concurrent writers never share one) in the same directory, written and fsynced, renamed over
 * `path` (atomic on POSIX), then the directory fsynced so the rename itself survives a power cut.
 * Readers see the old content or the new one, never an empty or partial file.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', mode)
  let placed = false
  try {
    await fh.writeFile(data)
    await fh.sync()
    await fh.close()
    if (options.exclusive === true) await link(tmp, path)
    else await rename(tmp, path)
    placed = options.exclusive !== true
  } finally {
    await fh.close().catch(() => {}) // already closed on the happy path
    if (!placed) await unlink(tmp).catch(() => {})
  }
  await syncDir(dir)
}

/** fsync of a directory: makes a rename/link in it durable. */
async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY)
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

export class StateDir {
  readonly dir: string

  constructor(dir: string) {
    this.dir = resolve(dir)
  }

  path(file: keyof typeof STATE_FILES): string {
    return join(this.dir, STATE_FILES[file])
  }

  /**
   * The control socket: $MESHLAN_SOCKET; else, for the default state directory when the service's
   * runtime directory exists, RUNTIME_DIR/control.sock (reachable by the `meshlan` group); else
   * `<state>/control.sock`. The daemon and the CLI both ask here, so they always agree.
   */
  socketPath(env: NodeJS.ProcessEnv = process.env): string {
    const fromEnv = env[SOCKET_ENV]
    if (fromEnv != null && fromEnv !== '') return resolve(fromEnv)
    if (this.dir === DEFAULT_STATE_DIR && existsSync(RUNTIME_DIR))
      return join(RUNTIME_DIR, STATE_FILES.socket)
    return this.path('socket')
  }

  /** Creates the directory (0700) if needed. */
  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    await chmod(this.dir, 0o700)
  }

  async loadIdentity(): Promise<PrivateKey | null> {
    const bytes = await readOptional(this.path('identity'))
    if (bytes == null) return null
    try {
      return (await keys()).privateKeyFromProtobuf(new Uint8Array(bytes))
    } catch (err) {
      throw new StateError(
        this.path('identity'),
        `is damaged (${(err as Error).message}): restore it from a backup`,
      )
    }
  }

  async requireIdentity(): Promise<PrivateKey> {
    const key = await this.loadIdentity()
    if (key == null) throw new NotInitializedError(this.dir)
    return key
  }

  /** Loads the identity, creating it first when there is none. `created` says which. */
  async initIdentity(): Promise<{ key: PrivateKey; peerId: string; created: boolean }> {
    await this.ensure()
    const { generateKeyPair, privateKeyToProtobuf } = await keys()
    const { peerIdFromPrivateKey } = await peerIds()
    const existing = await this.loadIdentity()
    if (existing != null)
      return { key: existing, peerId: peerIdFromPrivateKey(existing).toString(), created: false }
    const key = await generateKeyPair('Ed25519')
    // never written in place: a crash leaves no identity (made again) or the whole key
    await writeFileAtomic(this.path('identity'), privateKeyToProtobuf(key), 0o600, {
      exclusive: true,
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
    })
    const stored = await this.requireIdentity()
    return { key: stored, peerId: peerIdFromPrivateKey(stored).toString(), created: stored.equals(key) }
  }

  async readNetwork(): Promise<NetworkState | null> {
    const bytes = await readOptional(this.path('network'))
    if (bytes == null) return null
    let json: unknown
    try {
      json = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new StateError(this.path('network'), 'is not JSON: remove it and join again')
    }
    const { networkSchema } = await import('./network-schema.ts')
    const r = networkSchema.safeParse(json)
    if (!r.success) {
      const i = r.error.issues[0]
      throw new StateError(
        this.path('network'),
        `${i.path.join('.')}: ${i.message}: remove it and join again`,
      )
    }
    return r.data
  }

  async writeNetwork(n: NetworkState): Promise<void> {
    await writeFileAtomic(this.path('network'), JSON.stringify(n, null, 2) + '\n')
  }

  async readPolicy(): Promise<Uint8Array | null> {
    const b = await readOptional(this.path('policy'))
    return b == null ? null : new Uint8Array(b)
  }

  async writePolicy(envelope: Uint8Array): Promise<void> {
    await writeFileAtomic(this.path('policy'), envelope)
  }

  /** Known record envelopes (a damaged file is treated as empty: records are only a hint). */
  async readRecords(): Promise<Uint8Array[]> {
    const b = await readOptional(this.path('records'))
    if (b == null) return []
    try {
      const list = JSON.parse(b.toString('utf8')) as unknown
      if (!Array.isArray(list)) return []
      return list
        .map((s) => (typeof s === 'string' ? fromBase64(s) : null))
        .filter((r): r is Uint8Array => r != null)
    } catch {
      return []
    }
  }

  async writeRecords(records: Uint8Array[]): Promise<void> {
    await writeFileAtomic(this.path('records'), JSON.stringify(records.map((r) => toBase64(r))) + '\n')
  }

  async readPid(): Promise<number | null> {
    const b = await readOptional(this.path('pid'))
    if (b == null) return null
    const n = Number.parseInt(b.toString('utf8').trim(), 10)
    return Number.isInteger(n) && n > 0 ? n : null
  }
}
