/**
 * `meshlan network restore`: an owner backup (owner-backup.ts) installed on a member node, which
 * becomes the owner's node and continues the policy version chain.
 *
 * The one danger is a fork: the lost owner may have signed versions after the backup was made, and
 * a restore that signs "backup version + 1" would then sign a second, different version N. So the
 * restore first syncs with every member it is admitted to and refuses unless at least one answered:
 * after that this node holds the newest version those members know, and signs newest + 1. What it
 * cannot know is a version that reached no member it can ask (docs/admin-security.md says so).
 *
 * Order: the backup's key signs, on the running member node, the one version that moves the
 * `owner` binding to this node and revokes the old owner's node(s) (binder.ts moveOwnerNode), and the
 * node publishes it over the connections it has; then owner.key is written (under the new local
 * passphrase), network.json says `owner`, and the node restarts with the key as its signer. A crash
 * after the signature and before owner.key leaves the members on the new version and this node
 * still a member: running the restore again finishes it (it signs one more, harmless, version).
 */
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { type MeshNode, moveOwnerNode, OWNER_KEY_NAME, PolicySigner, StalePolicyError } from '@meshlan/mesh'
import { fromBase64 } from '@meshlan/wire/encoding'
import type { ApiResult } from './api.ts'
import type { AuditSink } from './audit.ts'
import type { CallContext } from './controller.ts'
import { DaemonError, InvalidArgumentError, NodeNotRunningError } from './errors.ts'
import { type OwnerBackup, openOwnerBackup } from './owner-backup.ts'
import { encryptOwnerKey } from './owner-key.ts'
import type { OwnerKeyLock } from './owner-lock.ts'
import { phraseToOwnerKey } from './owner-phrase.ts'
import { type StateDir, writeFileAtomic } from './state.ts'

/** How long the newest-policy check waits for members' sync answers. */
export const RESTORE_SYNC_TIMEOUT_MS = 10_000

/** No member answered: this node cannot know it holds the newest policy, so it must not sign. */
export class NewestPolicyUnknownError extends DaemonError {
  constructor(asked: number) {
    super(
      'ERR_NEWEST_POLICY_UNKNOWN',
      `cannot prove this node holds the newest policy: ${asked === 0 ? 'no member is known' : `none of the ${asked} known member(s) answered`}, ` +
        'and signing without it could fork the version chain. Bring members online (`meshlan status` lists them) and run the restore again',
    )
    this.name = 'NewestPolicyUnknownError'
  }
}

/** The backup is of another network than the one this node is in. */
export class BackupOtherNetworkError extends DaemonError {
  constructor(backup: string, here: string | null) {
    super(
      'ERR_BACKUP_OTHER_NETWORK',
      here == null
        ? `this node is in no network: join network ${backup} first (\`meshlan join\` with a join string of any ` +
            'still-valid key), start it (`meshlan up`), then restore'
        : `the backup is of network ${backup}, this node is in ${here}: restore it on a member of ${backup}`,
    )
    this.name = 'BackupOtherNetworkError'
  }
}

/** The phrase is a valid key, but not this network's owner key. */
export class PhraseOtherOwnerError extends DaemonError {
  constructor(networkId: string) {
    super(
      'ERR_PHRASE_OTHER_OWNER',
      `these words are a valid key but not the owner key of network ${networkId}: use the phrase printed by ` +
        '`meshlan network backup --phrase` on this network’s owner (nothing was changed)',
    )
    this.name = 'PhraseOtherOwnerError'
  }
}

/** A revoked node cannot become the owner's node (and no member would talk to it to prove anything). */
export class RevokedNodeRestoreError extends DaemonError {
  constructor() {
    super('ERR_NODE_REVOKED', 'this node is revoked in the policy: restore the backup on another member')
    this.name = 'RevokedNodeRestoreError'
  }
}

export interface RestoreDeps {
  state: StateDir
  lock: OwnerKeyLock
  audit: AuditSink
  node(): MeshNode | null
  /** Stops and starts the node again from the state (it then signs with the held owner key). */
  restartNode(): Promise<void>
  /** This node's wanted name (config.toml), for a binding when it has none yet. */
  name(): string
}

/**
 * Syncs with every member this node knows (admitted now, or with a record: syncWith dials it and
 * the hello admits it first), at most 32, in parallel; resolves how many were asked and how many
 * answered. An answer either brought a newer policy (the store took it) or said we hold theirs:
 * both prove we are not behind that member.
 */
async function pullNewest(node: MeshNode, timeoutMs: number): Promise<{ asked: number; answered: number }> {
  const known = new Set([
    ...node.membership.gate.admittedPeers(),
    ...node.topology.all().map((n) => n.record.peerId),
  ])
  known.delete(node.peerId)
  const peers = [...known].filter((p) => !node.membership.store.isRevokedNode(p)).slice(0, 32)
  const results = await Promise.allSettled(
    peers.map((p) =>
      Promise.race([
        node.topology.syncWith(peerIdFromString(p)),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
      ]),
    ),
  )
  return { asked: peers.length, answered: results.filter((r) => r.status === 'fulfilled').length }
}

export interface RestoreParams {
  backup?: unknown
  backupPassphrase?: unknown
  /** The recovery phrase instead of the backup file and its passphrase. */
  phrase?: unknown
  passphrase?: unknown
}

/**
 * What the restore installs: the sealed backup file, or the owner key from its recovery phrase
 * together with the policy this member node holds (it names the network; the key must be its
 * owner's, else BackupOtherNetworkError below).
 */
async function backupOf(p: RestoreParams, node: MeshNode | null): Promise<OwnerBackup> {
  if (typeof p.phrase === 'string') {
    const key = await phraseToOwnerKey(p.phrase)
    const store = node?.membership.store
    const policy = store?.policy
    const envelope = store?.envelope
    if (policy == null || envelope == null)
      throw new NodeNotRunningError(
        'a restore from the phrase needs the network’s policy: `meshlan up` first',
      )
    const owner = peerIdFromPrivateKey(key).toString()
    if (owner !== policy.owner) throw new PhraseOtherOwnerError(policy.networkId)
    return {
      networkId: policy.networkId,
      name: policy.name,
      owner,
      key,
      policy: envelope,
      version: policy.version,
      ownerNodes: policy.members.filter((m) => m.key === OWNER_KEY_NAME).map((m) => m.peerId),
      bootstrap: [],
      createdAt: 0,
    }
  }
  if (typeof p.backup !== 'string' || p.backup === '')
    throw new InvalidArgumentError('restore needs the backup file or the recovery phrase')
  if (typeof p.backupPassphrase !== 'string')
    throw new InvalidArgumentError('restore needs the backup passphrase')
  const bytes = fromBase64(p.backup)
  if (bytes == null) throw new InvalidArgumentError('the backup is not base64: send the file as it is')
  return openOwnerBackup(bytes, p.backupPassphrase, 'the backup file')
}

export async function restoreOwner(
  d: RestoreDeps,
  p: RestoreParams,
  ctx: CallContext,
  syncTimeoutMs = RESTORE_SYNC_TIMEOUT_MS,
): Promise<ApiResult<'networkRestore'>> {
  const detail: Record<string, string | number | boolean | null> = {}
  try {
    const r = await restore(d, p, ctx, detail, syncTimeoutMs)
    await d.audit.append({ ...ctx, event: 'network.restore', ok: true, detail })
    return r
  } catch (err) {
    const code = (err as { code?: unknown }).code
    detail.error = typeof code === 'string' ? code : 'ERR_INTERNAL'
    await d.audit.append({ ...ctx, event: 'network.restore', ok: false, detail })
    throw err
  }
}

async function restore(
  d: RestoreDeps,
  p: RestoreParams,
  ctx: CallContext,
  detail: Record<string, string | number | boolean | null>,
  syncTimeoutMs: number,
): Promise<ApiResult<'networkRestore'>> {
  if (typeof p.passphrase !== 'string')
    throw new InvalidArgumentError('restore needs a new passphrase for owner.key')
  const node = d.node()
  const network = await d.state.readNetwork()
  detail.from = typeof p.phrase === 'string' ? 'phrase' : 'file'
  const backup = await backupOf(p, node)
  detail.network = backup.networkId
  detail.backupVersion = backup.version
  if (network?.networkId !== backup.networkId || network.owner !== backup.owner)
    throw new BackupOtherNetworkError(backup.networkId, network?.networkId ?? null)
  if (node == null)
    throw new NodeNotRunningError(
      'the restore must fetch the newest policy from the mesh first: `meshlan up`',
    )
  // sealed before anything changes: a weak new passphrase is refused while nothing is done yet
  const sealed = await encryptOwnerKey(backup.key, p.passphrase)
  const store = node.membership.store
  await store.offer(backup.policy) // 'stale' when the mesh already brought us as new or newer
  const { asked, answered } = await pullNewest(node, syncTimeoutMs)
  detail.peersAnswered = answered
  if (answered === 0) throw new NewestPolicyUnknownError(asked)
  if (store.isRevokedNode(node.peerId)) throw new RevokedNodeRestoreError()
  const previousVersion = store.version
  detail.previousVersion = previousVersion

  // signed now, while this node's connections to the members are up: they get it over gossip at
  // once (the restart below changes this node's addresses, and the old owner's node is gone)
  const revoked =
    store.policy?.members
      .filter((m) => m.key === OWNER_KEY_NAME && m.peerId !== node.peerId)
      .map((m) => m.peerId) ?? []
  const signer = new PolicySigner({
    ownerKey: backup.key,
    current: () => store.policy,
    apply: async (envelope, policy) => {
      const r = await node.topology.announcePolicy(envelope)
      if (r !== 'accepted')
        throw new StalePolicyError(policy.version, r === 'stale' ? 'a newer version exists' : r.rejected)
    },
  })
  const signed = await signer.amend(moveOwnerNode(node.peerId, d.name(), Date.now()))
  detail.version = signed.policy.version
  detail.revoked = revoked.join(',') || null
  await d.audit.append({ ...ctx, event: 'policy.sign', detail: { version: signed.policy.version } })

  await writeFileAtomic(d.lock.file, sealed, 0o600)
  d.lock.hold(backup.key)
  // the claim stays: members check the owner-node binding before any claim, so this node is
  // admitted both before and after the binding moved
  await d.state.writeNetwork({ ...network, role: 'owner' })
  // the node signs with the held owner key from now on (its signer exists from the start only)
  await d.restartNode()
  const running = d.node()
  if (running == null) throw new NodeNotRunningError('it did not start again after the restore')
  // its new addresses are in no member's records yet: dial the members, so they reach it again
  await pullNewest(running, syncTimeoutMs)
  return {
    networkId: backup.networkId,
    owner: backup.owner,
    previousVersion,
    version: signed.policy.version,
    revokedOwnerNodes: revoked,
    peersAnswered: answered,
  }
}
