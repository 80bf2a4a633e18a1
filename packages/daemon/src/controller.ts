/**
 * (Over 500 lines: one method per control-API operation on the state directory, each short; splitting it by noun — keys, routes, owner — is the next step, not done yet.)
 *
 * The controller: every operation on a node's network state, in one implementation.
 *
 * The CLI runs it directly on the state directory when no daemon runs; the daemon runs the same
 * object behind its control socket, with hooks that hand new policies to the running node. Every
 * method takes and returns plain JSON data, so the control socket carries them unchanged.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  ALLOW_ALL_ACL,
  approveRoute,
  bindMembers,
  checkAdvertised,
  checkRoute,
  claimMembership,
  createNetwork,
  NoNetworkError,
  NotOwnerError,
  newestRecords,
  newKey,
  nextVersion,
  OWNER_KEY_NAME,
  type PolicyChange,
  PolicySigner,
  readAclText,
  removeKey,
  revokeNodeChange,
  revokeRoute,
  routeOverview,
  setAcl,
  setAdmins,
  UnknownKeyError,
  UnknownNodeError,
} from '@meshlan/mesh'
import {
  adminEpoch,
  decodePolicy,
  decodeRecord,
  deriveMeshKey,
  encodeJoinString,
  isEd25519PeerId,
  MAX_POLICY_ADMINS,
  MAX_POLICY_MEMBERS,
  NAME_RE,
  type NodeRecord,
  type Policy,
  parseJoinString,
  publicKeyToRawBase64,
  signAdmins,
} from '@meshlan/wire'
import { toBase64 } from '@meshlan/wire/encoding'
import type { ControllerApi, ControllerApiMethod, DelegatesInfo } from './api.ts'
import { type AuditSink, NULL_AUDIT } from './audit.ts'
import { type Config, loadConfig, updateConfig } from './config.ts'
import { DEFAULT_LISTEN } from './constants.ts'
import { AlreadyInNetworkError, InvalidArgumentError, InvalidJoinStringError, StateError } from './errors.ts'
import { hostIPv4Addresses, hostRoutes } from './host.ts'
import { BackupNeedsProtectedNetworkError, sealOwnerBackup } from './owner-backup.ts'
import { decryptOwnerKey, encryptOwnerKey, OwnerKeyIsNodeKeyError } from './owner-key.ts'
import { OWNER_KEY_FILE, OwnerKeyLock } from './owner-lock.ts'
import { ownerKeyToPhrase } from './owner-phrase.ts'
import { type NetworkState, type StateDir, writeFileAtomic } from './state.ts'

/**
 * Who asked, for the audit log: `uid:N` on the control socket (and for the CLI run offline), the
 * admin user on the admin API. `source` is where from (`uid:N`, `ip:ADDR`).
 */
export interface CallContext {
  actor: string
  source: string
}

/** The CLI run offline: this process's user. */
export function localContext(): CallContext {
  const who = `uid:${process.getuid?.() ?? 0}`
  return { actor: who, source: who }
}

type Detail = Record<string, string | number | boolean | null>

/** How the controller reaches a running node (daemon only; all optional). */
export interface ControllerHooks {
  /**
   * Has the running node's signer make and apply a policy change (the one signer: the node stores,
   * gossips and persists it); resolves null when no node runs, so the controller signs on disk.
   */
  amendPolicy?(change: PolicyChange): Promise<{ policy: Policy; envelope: Uint8Array } | null>
  /** The running node's multiaddrs, with /p2p/; null when no node runs. */
  listenAddrs?(): string[] | null
  /**
   * A join string's bootstrap list from the running node: member relays first, then `self` (our
   * addresses), then other members (reachability joinBootstrap); null when no node runs.
   */
  joinAddrs?(self: string[]): string[] | null
  /** Record envelopes the running node knows. */
  records?(): Uint8Array[]
  /** network.json changed (created or joined): (re)start the node. */
  networkChanged?(): Promise<void>
}

export interface ControllerInit {
  state: StateDir
  hooks?: ControllerHooks
  /** Host routes a new subnet must not overlap. @default hostRoutes() (`ip -j route`) */
  hostRoutes?: () => Promise<string[]>
  /** Host IPv4 addresses for join strings when no node runs. @default hostIPv4Addresses() */
  hostAddresses?: () => string[]
  /** Where admin actions are recorded. @default none */
  audit?: AuditSink
  /**
   * The owner key's lock (a protected network). @default one over `<state>/owner.key`, never
   * unlocked: run offline, a protected network's admin actions need the daemon (`meshlan unlock`)
   */
  lock?: OwnerKeyLock
}

export type ControllerMethod = ControllerApiMethod

/** Method names the control socket forwards to the controller. */
export const CONTROLLER_METHODS: readonly ControllerMethod[] = [
  'init',
  'networkCreate',
  'networkProtect',
  'networkBackup',
  'networkPhrase',
  'keyCreate',
  'keyList',
  'delegateSet',
  'delegateList',
  'keyRefresh',
  'keyRevoke',
  'aclShow',
  'aclSet',
  'nodeRevoke',
  'routeList',
  'routeApprove',
  'routeRevoke',
  'join',
]

/** ACL text is parsed once, by mesh, into the value newKey/setAcl take (re-exported for the daemon's API). */
export { readAclText }

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(name)} is not valid: use lowercase letters, digits and -, at most 63 characters`,
    )
  }
  return name
}

type NoParamsIn = Record<string, never>

/** The delegated admins a policy names, with their bound names. */
function delegatesOf(policy: Policy): DelegatesInfo {
  return {
    epoch: adminEpoch(policy),
    nodes: (policy.admins?.nodes ?? []).map((id) => ({
      peerId: id,
      name: policy.members.find((m) => m.peerId === id)?.name ?? null,
    })),
  }
}

export class Controller implements ControllerApi {
  readonly state: StateDir
  private readonly hooks: ControllerHooks
  private readonly routes: () => Promise<string[]>
  private readonly addresses: () => string[]
  readonly audit: AuditSink
  readonly lock: OwnerKeyLock
  /** Owner operations are serialised: each signs version + 1 of the previous one. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(init: ControllerInit) {
    this.state = init.state
    this.hooks = init.hooks ?? {}
    this.routes = init.hostRoutes ?? hostRoutes
    this.addresses = init.hostAddresses ?? hostIPv4Addresses
    this.audit = init.audit ?? NULL_AUDIT
    this.lock = init.lock ?? new OwnerKeyLock({ file: join(init.state.dir, OWNER_KEY_FILE) })
  }

  /**
   * Runs an admin action and records it: ok with `done(result)`'s facts, or failed with the error's
   * code (a refusal while locked is worth seeing too). An audit write failure fails the action's
   * answer only after the action itself is done; it is never silently dropped.
   */
  private async audited<T>(
    ctx: CallContext | undefined,
    event: string,
    detail: Detail,
    fn: () => Promise<T>,
    done: (r: T) => Detail = () => ({}),
  ): Promise<T> {
    const who = ctx ?? localContext()
    let r: T
    try {
      r = await fn()
    } catch (err) {
      const code = (err as { code?: unknown }).code
      await this.audit.append({
        ...who,
        event,
        ok: false,
        detail: { ...detail, error: typeof code === 'string' ? code : 'ERR_INTERNAL' },
      })
      throw err
    }
    await this.audit.append({ ...who, event, ok: true, detail: { ...detail, ...done(r) } })
    return r
  }

  /** Refuses early (before any work) while a protected owner key is locked. */
  private requireUnlocked(what: string): void {
    if (this.lock.protected && this.lock.locked) this.lock.signingKey(what)
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return run
  }

  async init(p: { name?: string | null }): Promise<{ peerId: string; name: string; created: boolean }> {
    const { peerId, created } = await this.state.initIdentity()
    if (p.name != null) await updateConfig(this.state.dir, { name: checkName('node name', p.name) })
    const config = await loadConfig(this.state.dir)
    return { peerId, name: config.name, created }
  }

  // ---- owner ------------------------------------------------------------------------------------

  /**
   * The owner's view for `what`: this node's key, the newest policy, the network. `admin`: a
   * delegated admin node (named in the policy's owner-signed certificate) may do it too — its changes
   * go through its running node, which signs with its own key (mesh membership/service.ts).
   */
  private async owner(
    what: string,
    admin: 'admin-too' | 'owner-only' = 'owner-only',
  ): Promise<{ key: PrivateKey; policy: Policy; network: NetworkState }> {
    const key = await this.state.requireIdentity()
    const network = await this.state.readNetwork()
    if (network == null) throw new NoNetworkError()
    // a protected network's owner is its signing key (owner.key), not this node's key
    const ownerId = this.lock.protected ? network.owner : peerIdFromPrivateKey(key).toString()
    const isOwner = network.role === 'owner' && network.owner === ownerId
    if (!isOwner && admin === 'owner-only') throw new NotOwnerError(what)
    const bytes = await this.state.readPolicy()
    // a member without a policy yet is simply not an admin
    if (bytes == null && !isOwner) throw new NotOwnerError(what)
    if (bytes == null) throw new StateError(this.state.path('policy'), 'is missing: restore it from a backup')
    const d = decodePolicy(bytes)
    if (!d.ok) throw new StateError(this.state.path('policy'), `is damaged (${d.reason})`)
    if (!isOwner && !(d.value.body.admins?.nodes.includes(peerIdFromPrivateKey(key).toString()) ?? false))
      throw new NotOwnerError(what)
    return { key, policy: d.value.body, network }
  }

  /**
   * Makes one policy change through the one signer: the running node's, or — with no node running —
   * one over the state directory. Either way the change is applied to the newest version.
   */
  private async amend(what: string, change: PolicyChange): Promise<{ policy: Policy; envelope: Uint8Array }> {
    const viaNode = await this.hooks.amendPolicy?.(change)
    if (viaNode != null) return viaNode
    const { key } = await this.owner(what)
    const signer = new PolicySigner({
      ownerKey: this.lock.protected ? () => this.lock.signingKey(what) : key,
      current: async () => (await this.owner(what)).policy,
      apply: (envelope) => this.state.writePolicy(envelope),
    })
    const r = await signer.amend(change)
    // with a node running, the daemon records what its node signs (binder included)
    await this.audit.append({
      ...localContext(),
      event: 'policy.sign',
      detail: { version: r.policy.version },
    })
    return r
  }

  async networkCreate(
    p: { name: string; subnet?: string | null; force?: boolean; passphrase?: string | null },
    ctx?: CallContext,
  ) {
    return this.serial(async () => {
      const key = await this.state.requireIdentity()
      const existing = await this.state.readNetwork()
      if (existing != null) throw new AlreadyInNetworkError(existing.networkId)
      if (typeof p.name !== 'string' || p.name.length < 1 || p.name.length > 64) {
        throw new InvalidArgumentError('a network name must be 1-64 characters')
      }
      const force = p.force === true
      const protect = p.passphrase != null
      // protected: the owner key is a new key of its own, never a node key, so the node can run
      // (and start unattended) while the owner key stays encrypted (docs/admin-security.md)
      const ownerKey = protect ? await generateKeyPair('Ed25519') : key
      const created = await createNetwork(ownerKey, {
        name: p.name,
        subnet: p.subnet ?? undefined,
        hostRoutes: force ? [] : await this.routes(),
        force,
      })
      let { policy, envelope } = created
      if (protect) {
        const sealed = await encryptOwnerKey(ownerKey, p.passphrase as string)
        // version 2 names this node the owner's node: members admit it as the owner's
        const config = await loadConfig(this.state.dir)
        const bound = await nextVersion(
          policy,
          ownerKey,
          bindMembers(
            [{ peerId: peerIdFromPrivateKey(key).toString(), key: OWNER_KEY_NAME, wanted: config.name }],
            Date.now(),
          ),
        )
        ;({ policy, envelope } = bound)
        await writeFileAtomic(this.lock.file, sealed, 0o600)
        this.lock.hold(ownerKey)
      }
      await this.state.writePolicy(envelope)
      await this.state.writeNetwork({
        networkId: policy.networkId,
        owner: policy.owner,
        role: 'owner',
        keyName: null,
        bootstrap: [],
        claim: null,
      })
      await this.hooks.networkChanged?.()
      const who = ctx ?? localContext()
      await this.audit.append({
        ...who,
        event: 'network.create',
        detail: { network: policy.networkId, name: policy.name, protected: protect, version: policy.version },
      })
      if (protect) await this.audit.append({ ...who, event: 'network.protect', detail: { change: 'added' } })
      return {
        networkId: policy.networkId,
        name: policy.name,
        subnet: policy.subnet,
        owner: policy.owner,
        protected: protect,
      }
    })
  }

  /**
   * Changes the owner key's passphrase. The key comes from the unlocked daemon, or from
   * `oldPassphrase` (the caller counts a wrong one toward the unlock lockout). A network whose
   * owner key is its node key cannot be protected: see OwnerKeyIsNodeKeyError.
   */
  async networkProtect(p: { passphrase: string; oldPassphrase?: string | null }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(ctx, 'network.protect', { change: 'passphrase' }, async () => {
        await this.owner('protect the owner key')
        if (!this.lock.protected) throw new OwnerKeyIsNodeKeyError()
        if (typeof p.passphrase !== 'string') throw new InvalidArgumentError('a new passphrase is needed')
        // locked and no old passphrase: signingKey() throws OwnerLockedError
        const key =
          !this.lock.locked || p.oldPassphrase == null
            ? this.lock.signingKey('the passphrase change')
            : await decryptOwnerKey(await readFile(this.lock.file), p.oldPassphrase, this.lock.file)
        await writeFileAtomic(this.lock.file, await encryptOwnerKey(key, p.passphrase), 0o600)
        return { protected: true as const, file: this.lock.file }
      }),
    )
  }

  /**
   * The owner backup (owner-backup.ts), sealed under `passphrase`, as base64 for the CLI to write.
   * The key comes from the unlocked daemon, or from `ownerPassphrase` (the daemon counts a wrong
   * one toward the unlock lockout). An unprotected network is refused: its owner key is the node's
   * own key, which cannot move to another node (BackupNeedsProtectedNetworkError says what to do).
   */
  async networkBackup(p: { passphrase: string; ownerPassphrase?: string | null }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'network.backup',
        {},
        async () => {
          const { policy } = await this.owner('back up the owner key')
          if (!this.lock.protected) throw new BackupNeedsProtectedNetworkError(this.state.dir)
          if (typeof p.passphrase !== 'string')
            throw new InvalidArgumentError('a backup passphrase is needed')
          const key = await this.backupKey(p.ownerPassphrase, 'a backup')
          const envelope = (await this.state.readPolicy()) as Uint8Array // owner() read it
          const sealed = await sealOwnerBackup(
            {
              key,
              policy: envelope,
              policyBody: policy,
              bootstrap: await this.memberAddrs(),
              createdAt: Date.now(),
            },
            p.passphrase,
          )
          return {
            backup: toBase64(sealed),
            networkId: policy.networkId,
            owner: policy.owner,
            version: policy.version,
          }
        },
        (r) => ({ network: r.networkId, version: r.version }),
      ),
    )
  }

  /** The owner key as 24 words (owner-phrase.ts): same rules as a backup, no file. */
  async networkPhrase(p: { ownerPassphrase?: string | null }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'network.phrase',
        {},
        async () => {
          const { policy } = await this.owner('write down the owner key')
          if (!this.lock.protected) throw new BackupNeedsProtectedNetworkError(this.state.dir)
          const phrase = ownerKeyToPhrase(await this.backupKey(p.ownerPassphrase, 'the recovery phrase'))
          return { phrase, networkId: policy.networkId, owner: policy.owner }
        },
        (r) => ({ network: r.networkId }),
      ),
    )
  }

  /** The owner key for a backup: held while unlocked, else decrypted with the given passphrase. */
  private async backupKey(ownerPassphrase: string | null | undefined, what: string): Promise<PrivateKey> {
    return !this.lock.locked || ownerPassphrase == null
      ? this.lock.signingKey(what)
      : decryptOwnerKey(await readFile(this.lock.file), ownerPassphrase, this.lock.file)
  }

  /** Members' announced addresses (with /p2p/), for a restore to find the mesh again. */
  private async memberAddrs(): Promise<string[]> {
    const out: string[] = []
    for (const r of await this.recordBodies()) {
      for (const a of r.addrs) {
        if (a.includes('/p2p-circuit')) continue
        out.push(a.includes('/p2p/') ? a : `${a}/p2p/${r.peerId}`)
      }
    }
    return [...new Set(out)].slice(0, 64)
  }

  async keyCreate(
    p: {
      name: string
      aclText?: string | null
      /** Grant everything (the only way to, besides an ACL that says so). */
      allowAll?: boolean
      /** The key admits no new node after this time (ms since epoch). */
      expiresAt?: number | null
      /** Every membership of the key ends at this time (ms since epoch). */
      memberExpiresAt?: number | null
      reusable?: boolean
      /** Most nodes the key admits (default: 1 one-use, DEFAULT_KEY_MAX_MEMBERS reusable). */
      maxMembers?: number | null
      /** Members' route / exit-node offers the owner approves on sight. */
      autoApprove?: { routes: string[]; exit: boolean } | null
      tags?: string[] | null
    },
    ctx?: CallContext,
  ) {
    return this.serial(() =>
      this.audited(
        ctx,
        'key.create',
        { key: p.name, allowAll: p.allowAll === true, reusable: p.reusable === true },
        async () => {
          this.requireUnlocked('create mesh keys')
          const { key, policy } = await this.owner('create mesh keys', 'admin-too')
          checkName('key name', p.name)
          if (p.name === OWNER_KEY_NAME) {
            // a node bound under this name is the owner's node (mesh policy-store.ts: isOwnerNode)
            throw new InvalidArgumentError(
              `key name "${OWNER_KEY_NAME}" is reserved for the owner's node: choose another`,
            )
          }
          if (p.aclText != null && p.allowAll === true) {
            throw new InvalidArgumentError('give either --acl FILE or --allow-all, not both')
          }
          const acl =
            p.aclText != null ? readAclText(p.aclText) : p.allowAll === true ? ALLOW_ALL_ACL : undefined
          for (const [flag, t] of [
            ['--expires', p.expiresAt],
            ['--member-expires', p.memberExpiresAt],
          ] as const) {
            if (t != null && (!Number.isSafeInteger(t) || t <= Date.now())) {
              throw new InvalidArgumentError(`${flag} must be in the future: use e.g. ${flag} 24h or 7d`)
            }
          }
          if (
            p.maxMembers != null &&
            (!Number.isInteger(p.maxMembers) || p.maxMembers < 1 || p.maxMembers > MAX_POLICY_MEMBERS)
          ) {
            throw new InvalidArgumentError(
              `--max-members must be a whole number from 1 to ${MAX_POLICY_MEMBERS}`,
            )
          }
          const tags = p.tags?.filter((t) => t !== '')
          for (const t of tags ?? []) checkName('tag', t)
          const bootstrap = await this.bootstrapAddrs(key)
          const { change, joinString } = await newKey(
            policy,
            {
              name: p.name,
              acl,
              tags: tags != null && tags.length > 0 ? tags : undefined,
              expiresAt: p.expiresAt ?? null,
              memberExpiresAt: p.memberExpiresAt ?? null,
              reusable: p.reusable === true,
              maxMembers: p.maxMembers ?? null,
              autoApprove: p.autoApprove ?? undefined,
            },
            bootstrap,
          )
          const r = await this.amend('create mesh keys', change)
          return {
            name: p.name,
            joinString,
            expiresAt: p.expiresAt ?? null,
            memberExpiresAt: p.memberExpiresAt ?? null,
            /** True when the key reaches nothing yet (default deny): grant with `acl set` or --allow-all. */
            denyAll: acl == null,
            version: r.policy.version,
          }
        },
        (r) => ({ version: r.version }),
      ),
    )
  }

  /**
   * The same key's join string with today's bootstrap list (relays first): the mesh changed since
   * the string was made. Its secret lives only in the string, so the owner hands the old one in;
   * refused unless it is a live key of this network.
   */
  async keyRefresh(p: { joinString: string }) {
    const { key, policy } = await this.owner('refresh join strings')
    const parsed = parseJoinString(p.joinString)
    if (!parsed.ok) throw new InvalidJoinStringError(parsed.reason)
    const join = parsed.value
    const entry = policy.keys.find((k) => k.name === join.keyName)
    const mesh = await deriveMeshKey(join.secret, policy.networkId)
    if (
      join.networkId !== policy.networkId ||
      entry == null ||
      entry.publicKey !== publicKeyToRawBase64(mesh.publicKey)
    )
      throw new InvalidJoinStringError(
        `it is not a live key of this network (${policy.networkId}): see \`meshlan key list\`, or make a new one with \`meshlan key create\``,
      )
    const bootstrap = await this.bootstrapAddrs(key)
    return { name: entry.name, joinString: encodeJoinString({ ...join, bootstrap }), bootstrap }
  }

  async keyList(_p: Record<string, never> = {}) {
    const { policy } = await this.owner('list mesh keys', 'admin-too')
    return {
      keys: policy.keys.map((k) => ({
        name: k.name,
        tags: k.tags,
        createdAt: k.createdAt,
        /** No new node may join with the key after this. */
        expiresAt: k.expiresAt,
        /** Every membership of the key ends at this. */
        memberExpiresAt: k.memberExpiresAt,
        reusable: k.reusable,
        claimedBy: k.claimedBy,
        maxMembers: k.maxMembers,
        members: policy.members.filter((m) => m.key === k.name).length,
      })),
      revoked: policy.revokedKeys.map((k) => ({ name: k.name, revokedAt: k.revokedAt })),
    }
  }

  async keyRevoke(p: { name: string }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'key.revoke',
        { key: p.name },
        async () => {
          this.requireUnlocked('revoke mesh keys')
          const r = await this.amend('revoke mesh keys', removeKey(p.name))
          return { name: p.name, version: r.policy.version }
        },
        (r) => ({ version: r.version }),
      ),
    )
  }

  async aclShow(p: { key?: string | null }) {
    const { policy } = await this.owner('read key ACLs', 'admin-too')
    const keys = p.key == null ? policy.keys : policy.keys.filter((k) => k.name === p.key)
    if (p.key != null && keys.length === 0) throw new UnknownKeyError(p.key)
    return { keys: keys.map((k) => ({ name: k.name, acl: k.acl as unknown })) }
  }

  async aclSet(p: { key: string; aclText: string }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'acl.set',
        { key: p.key },
        async () => {
          this.requireUnlocked('change key ACLs')
          // the change itself refuses an unknown key, against the newest policy; the log keeps both
          // versions of the rules (old and new) so the change can be read back
          const before = (await this.owner('change key ACLs', 'admin-too')).policy.keys.find(
            (k) => k.name === p.key,
          )
          const acl = readAclText(p.aclText)
          const r = await this.amend('change key ACLs', setAcl(p.key, acl))
          return {
            key: p.key,
            version: r.policy.version,
            old: JSON.stringify(before?.acl ?? null),
            new: JSON.stringify(acl),
          }
        },
        (r) => ({ version: r.version, old: r.old, new: r.new }),
      ),
    )
  }

  async delegateSet(p: { node: string; admin: boolean }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'admin.delegate',
        { node: p.node, admin: p.admin === true },
        async () => {
          this.requireUnlocked('name delegated admins')
          const { key, policy } = await this.owner('name delegated admins')
          const found = await this.findNode(String(p.node ?? ''), policy)
          const bound = policy.members.find((m) => m.peerId === found.peerId)
          if (p.admin === true && (bound == null || bound.key === OWNER_KEY_NAME))
            throw new InvalidArgumentError(
              `${p.node} is not a bound member (or is the owner's node): an admin must be a member the owner admitted`,
            )
          const nodes = new Set(policy.admins?.nodes ?? [])
          if (p.admin === true) nodes.add(found.peerId)
          else if (!nodes.delete(found.peerId))
            throw new InvalidArgumentError(`${p.node} is not a delegated admin`)
          if (nodes.size > MAX_POLICY_ADMINS)
            throw new InvalidArgumentError(`at most ${MAX_POLICY_ADMINS} delegated admins: remove one first`)
          const signing = this.lock.protected ? this.lock.signingKey('name delegated admins') : key
          const cert = await signAdmins(signing, policy.networkId, adminEpoch(policy) + 1, [...nodes])
          const r = await this.amend('name delegated admins', setAdmins(cert))
          return { ...delegatesOf(r.policy), version: r.policy.version }
        },
        (r) => ({ epoch: r.epoch, version: r.version }),
      ),
    )
  }

  /** Any member may read who the delegated admins are: the policy it holds says so. */
  async delegateList(_p: NoParamsIn = {}) {
    const bytes = await this.state.readPolicy()
    if (bytes == null) throw new NoNetworkError()
    const d = decodePolicy(bytes)
    if (!d.ok) throw new StateError(this.state.path('policy'), `is damaged (${d.reason})`)
    return delegatesOf(d.value.body)
  }

  async nodeRevoke(p: { target: string; withKey?: boolean }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'node.revoke',
        { node: p.target, withKey: p.withKey === true },
        async () => {
          this.requireUnlocked('revoke nodes')
          const { policy } = await this.owner('revoke nodes', 'admin-too')
          const found = await this.findNode(p.target, policy)
          if (found.peerId === policy.owner) {
            throw new InvalidArgumentError('the owner cannot revoke itself: create a new network instead')
          }
          const keyName = policy.members.find((m) => m.peerId === found.peerId)?.key ?? null
          const key = policy.keys.find((k) => k.name === keyName)
          const withKey = p.withKey === true && key != null
          // one policy version for both, so no node ever sees the node revoked and its key still open
          const node = revokeNodeChange(found.peerId)
          const r = await this.amend('revoke nodes', withKey ? (cur) => removeKey(key.name)(node(cur)) : node)
          const others = withKey
            ? policy.members.filter((m) => m.key === key.name && m.peerId !== found.peerId).map((m) => m.name)
            : []
          // a node revoke bans one identity: whoever holds a reusable key's join string can mint another
          const warning =
            !withKey && key?.reusable === true
              ? `${found.name ?? found.peerId} joined with reusable key ${key.name}: its join string still admits new identities; run \`meshlan node revoke ${found.name ?? found.peerId} --with-key\` or \`meshlan key revoke ${key.name}\` to close it`
              : others.length > 0
                ? `key ${keyName} is revoked too: its other members (${others.join(', ')}) are cut off as well`
                : null
          return {
            peerId: found.peerId,
            name: found.name,
            version: r.policy.version,
            keyRevoked: withKey ? key.name : null,
            warning,
          }
        },
        (r) => ({ peer: r.peerId, version: r.version, keyRevoked: r.keyRevoked }),
      ),
    )
  }

  async routeList(_p: Record<string, never> = {}) {
    const { policy } = await this.owner('list routes', 'admin-too')
    return { nodes: routeOverview(policy, await this.recordBodies()) }
  }

  /**
   * Approves what the node advertises (its newest record says). The owner's own node has no
   * record of itself here: its approval is taken as given (it routes nothing unless advertised).
   */
  async routeApprove(p: { node: string; route: string }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'route.approve',
        { node: p.node, route: p.route },
        async () => {
          this.requireUnlocked('approve routes')
          const { policy } = await this.owner('approve routes', 'admin-too')
          const found = await this.findNode(p.node, policy)
          checkRoute(p.route, policy.subnet)
          if (!policy.members.some((m) => m.peerId === found.peerId)) throw new UnknownNodeError(p.node)
          const record = newestRecords(await this.recordBodies()).get(found.peerId)
          if (record != null || found.peerId !== policy.owner)
            checkAdvertised(found.name ?? p.node, p.route, record)
          const r = await this.amend('approve routes', approveRoute(found.peerId, p.route))
          return { peerId: found.peerId, name: found.name, route: p.route, version: r.policy.version }
        },
        (r) => ({ peer: r.peerId, version: r.version }),
      ),
    )
  }

  async routeRevoke(p: { node: string; route: string }, ctx?: CallContext) {
    return this.serial(() =>
      this.audited(
        ctx,
        'route.revoke',
        { node: p.node, route: p.route },
        async () => {
          this.requireUnlocked('revoke routes')
          const { policy } = await this.owner('revoke routes', 'admin-too')
          const found = await this.findNode(p.node, policy)
          const r = await this.amend(
            'revoke routes',
            revokeRoute(found.peerId, p.route, found.name ?? p.node),
          )
          return { peerId: found.peerId, name: found.name, route: p.route, version: r.policy.version }
        },
        (r) => ({ peer: r.peerId, version: r.version }),
      ),
    )
  }

  private async recordBodies(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = []
    for (const bytes of this.hooks.records?.() ?? (await this.state.readRecords())) {
      const d = decodeRecord(bytes)
      if (d.ok) out.push(d.value.body)
    }
    return out
  }

  /** A node by name or peer id: the owner's bindings first, then the records the node knows. */
  private async findNode(target: string, policy: Policy): Promise<{ peerId: string; name: string | null }> {
    const records = this.hooks.records?.() ?? (await this.state.readRecords())
    const known: Array<{ peerId: string; name: string; ip: string }> = policy.members.map((m) => ({
      peerId: m.peerId,
      name: m.name,
      ip: m.ip,
    }))
    for (const bytes of records) {
      const d = decodeRecord(bytes)
      if (d.ok) known.push({ peerId: d.value.body.peerId, name: d.value.body.name, ip: d.value.body.ip })
    }
    const wanted = target.replace(/\.mesh$/, '')
    const hit = known.find((n) => n.peerId === target || n.name === wanted || n.ip === target)
    if (hit != null) return { peerId: hit.peerId, name: hit.name }
    if (isEd25519PeerId(target)) return { peerId: target, name: null }
    throw new UnknownNodeError(target)
  }

  /**
   * Bootstrap addresses for a join string: announce, else the node's addresses, else the host's;
   * with a node running, member relays and other reachable members around them (joinAddrs).
   */
  async bootstrapAddrs(key: PrivateKey): Promise<string[]> {
    const id = peerIdFromPrivateKey(key).toString()
    const withId = (a: string): string => (a.includes('/p2p/') ? a : `${a}/p2p/${id}`)
    const config: Config = await loadConfig(this.state.dir)
    let addrs: string[]
    const live = this.hooks.listenAddrs?.() ?? null
    if (config.announce != null && config.announce.length > 0) {
      addrs = config.announce.map(withId)
    } else if (live != null) {
      addrs = live.filter((a) => !a.includes('/p2p-circuit')).map(withId)
      // reachable addresses first: loopback only helps nodes on this host
      addrs.sort((a, b) => Number(a.startsWith('/ip4/127.')) - Number(b.startsWith('/ip4/127.')))
    } else {
      const port = listenPort(config.listen)
      addrs = this.addresses().map((ip) => withId(`/ip4/${ip}/tcp/${port}`))
    }
    // with a node running, several members: a newcomer can join while this node is offline
    return this.hooks.joinAddrs?.(addrs) ?? [...new Set(addrs)].slice(0, 16)
  }

  // ---- member -----------------------------------------------------------------------------------

  async join(p: { joinString: string; name?: string | null }) {
    return this.serial(async () => {
      const parsed = parseJoinString(p.joinString)
      if (!parsed.ok) throw new InvalidJoinStringError(parsed.reason)
      const join = parsed.value
      const { key, peerId } = await this.state.initIdentity()
      if (p.name != null) await updateConfig(this.state.dir, { name: checkName('node name', p.name) })
      const existing = await this.state.readNetwork()
      if (existing != null && existing.networkId !== join.networkId) {
        throw new AlreadyInNetworkError(existing.networkId)
      }
      if (existing?.role === 'owner') throw new AlreadyInNetworkError(existing.networkId)
      // the claim is computed now, so the mesh key secret is never written anywhere
      const claim = await claimMembership(join, key)
      await this.state.writeNetwork({
        networkId: join.networkId,
        owner: join.ownerPeerId,
        role: 'member',
        keyName: join.keyName,
        bootstrap: join.bootstrap,
        claim,
        ...(join.minPolicyVersion != null ? { minPolicyVersion: join.minPolicyVersion } : {}),
      })
      await this.hooks.networkChanged?.()
      const config = await loadConfig(this.state.dir)
      return {
        networkId: join.networkId,
        owner: join.ownerPeerId,
        keyName: join.keyName,
        peerId,
        name: config.name,
      }
    })
  }
}

/** The TCP port of the first listen address with a fixed port (else the default's). */
export function listenPort(listen: string[]): number {
  for (const a of [...listen, ...DEFAULT_LISTEN]) {
    const m = /\/tcp\/(\d+)/.exec(a)
    if (m != null && Number(m[1]) > 0) return Number(m[1])
  }
  return 0
}

export function createController(init: ControllerInit): Controller {
  return new Controller(init)
}
