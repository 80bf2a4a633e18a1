/**
 * The owner backup (`meshlan network backup FILE`): a protected network's owner signing key and
 * what a restore on another node needs, sealed with a backup passphrase.
 *
 * Same layout, KDF (scrypt 2^17/8/1) and AEAD (AES-256-GCM) as owner.key (owner-key.ts), with its
 * own magic `MLOWNBAK` and check label, so an owner.key is never read as a backup nor the other way
 * round. The plaintext is UTF-8 JSON:
 *
 *   { v: 1, networkId, name, owner, key: base64 protobuf, policy: base64 envelope, version,
 *     ownerNodes: [peer ids bound under `owner`], bootstrap: [multiaddrs], createdAt }
 *
 * The policy is the newest the owner held when the backup was made: a restore never signs on it
 * blindly (it must first see the mesh's newest, owner-restore.ts), but it proves the key and the
 * network belong together and gives a floor for the version chain.
 */
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { OWNER_KEY_NAME } from '@meshlan/mesh'
import { decodeNetworkPolicy, type Policy, publicKeyFromPeerId } from '@meshlan/wire'
import { fromBase64, toBase64 } from '@meshlan/wire/encoding'
import { DaemonError } from './errors.ts'
import {
  DEFAULT_SCRYPT,
  hasMagic,
  openWithPassphrase,
  type ScryptParams,
  type SealFormat,
  sealWithPassphrase,
} from './owner-key.ts'

/** The backup file cannot be read: damaged, edited, not a backup, or from a newer meshlan. */
export class OwnerBackupFileError extends DaemonError {
  constructor(path: string, problem: string) {
    super('ERR_BACKUP_FILE', `${path}: ${problem}`)
    this.name = 'OwnerBackupFileError'
  }
}

export class WrongBackupPassphraseError extends DaemonError {
  constructor() {
    super(
      'ERR_WRONG_BACKUP_PASSPHRASE',
      'wrong backup passphrase: give the passphrase chosen at `meshlan network backup` (not an unlock passphrase)',
    )
    this.name = 'WrongBackupPassphraseError'
  }
}

/**
 * `network backup` on a network whose owner key is the owner node's key (created without a
 * passphrase). Such a key cannot move to another node without that node becoming the old node
 * (same identity, same peer id), so a key-only backup would be a trap: back up the whole state.
 */
export class BackupNeedsProtectedNetworkError extends DaemonError {
  constructor(stateDir: string) {
    super(
      'ERR_OWNER_KEY_IS_NODE_KEY',
      "this network's owner key is this node's own key (identity.key; the network was created without " +
        '--passphrase-file), so it cannot be restored on another node: back up the whole state directory instead ' +
        `(\`meshlan down\`, then an encrypted archive of ${stateDir}) and restore it on the replacement box as it is`,
    )
    this.name = 'BackupNeedsProtectedNetworkError'
  }
}

const BACKUP_FORMAT: SealFormat = {
  what: 'owner backup',
  magic: Buffer.from('MLOWNBAK', 'ascii'),
  checkLabel: 'meshlan owner backup check',
  fileError: (path, problem) => new OwnerBackupFileError(path, problem),
  wrongPassphrase: () => new WrongBackupPassphraseError(),
}

export interface OwnerBackup {
  networkId: string
  name: string
  /** The owner's peer id (of `key`). */
  owner: string
  key: PrivateKey
  /** The newest policy envelope the owner held, and its version. */
  policy: Uint8Array
  version: number
  /** Nodes bound under the reserved key name `owner` at backup time. */
  ownerNodes: string[]
  /** Member addresses known at backup time (a hint for reaching the mesh). */
  bootstrap: string[]
  createdAt: number
}

/** The backup's bytes, sealed under `passphrase`. */
export async function sealOwnerBackup(
  b: Omit<OwnerBackup, 'owner' | 'networkId' | 'name' | 'version' | 'ownerNodes'> & { policyBody: Policy },
  passphrase: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<Uint8Array> {
  const p = b.policyBody
  const plain = Buffer.from(
    JSON.stringify({
      v: 1,
      networkId: p.networkId,
      name: p.name,
      owner: p.owner,
      key: toBase64(privateKeyToProtobuf(b.key)),
      policy: toBase64(b.policy),
      version: p.version,
      ownerNodes: p.members.filter((m) => m.key === OWNER_KEY_NAME).map((m) => m.peerId),
      bootstrap: b.bootstrap,
      createdAt: b.createdAt,
    }),
    'utf8',
  )
  try {
    return await sealWithPassphrase(BACKUP_FORMAT, plain, passphrase, params)
  } finally {
    plain.fill(0)
  }
}

export function isOwnerBackup(bytes: Uint8Array): boolean {
  return hasMagic(BACKUP_FORMAT, bytes)
}

/**
 * Opens a backup: WrongBackupPassphraseError, or OwnerBackupFileError naming `path` when it is
 * damaged, or when what it holds does not fit together (the key is not the policy's owner, the
 * policy is not signed by it).
 */
export async function openOwnerBackup(
  bytes: Uint8Array,
  passphrase: string,
  path = 'backup',
): Promise<OwnerBackup> {
  const plain = await openWithPassphrase(BACKUP_FORMAT, bytes, passphrase, path)
  const bad = (why: string) => new OwnerBackupFileError(path, `${why}: make a new backup on the owner`)
  let j: Record<string, unknown>
  try {
    j = JSON.parse(plain.toString('utf8')) as Record<string, unknown>
  } catch {
    throw bad('holds no readable backup')
  } finally {
    plain.fill(0)
  }
  if (j.v !== 1) throw new OwnerBackupFileError(path, `has backup version ${String(j.v)}: upgrade meshlan`)
  const keyBytes = fromBase64(String(j.key))
  const policy = fromBase64(String(j.policy))
  if (keyBytes == null || policy == null) throw bad('holds no valid owner key or policy')
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(keyBytes)
  } catch {
    throw bad('holds no valid owner key')
  }
  const owner = peerIdFromPrivateKey(key).toString()
  if (owner !== j.owner) throw bad('its key is not the owner it names')
  const pub = publicKeyFromPeerId(owner)
  if (!pub.ok) throw bad(pub.reason)
  // the owner's or a delegated admin's (the newest the owner held may be an admin's version)
  const d = await decodeNetworkPolicy(policy, pub.value)
  if (!d.ok) throw bad(`its policy does not verify (${d.reason})`)
  const body = d.value.body
  if (body.networkId !== j.networkId || body.owner !== owner) throw bad('its policy is for another network')
  const strings = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []
  return {
    networkId: body.networkId,
    name: body.name,
    owner,
    key,
    policy,
    version: body.version,
    ownerNodes: strings(j.ownerNodes),
    bootstrap: strings(j.bootstrap),
    createdAt: typeof j.createdAt === 'number' ? j.createdAt : 0,
  }
}
