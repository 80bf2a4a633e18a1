/**
 * The control API: every method the daemon answers on its control socket, with its parameters and
 * result, in one place. The daemon's handler and the Controller implement it; the CLI calls it
 * through `callApi` (typed) and never re-declares a result. Everything is plain JSON data.
 */
import type { Netcheck, NodeStatus, PingResult, RouteOverviewNode } from '@meshlan/mesh'
import type { DnsStatus } from './magic-dns.ts'

/** A mesh key as `key list` shows it. */
/** Delegated admin nodes (owner-certified) and the certificate's epoch (0: never any). */
export interface DelegatesInfo {
  epoch: number
  nodes: Array<{ peerId: string; name: string | null }>
}

export interface KeyInfo {
  name: string
  tags: string[]
  createdAt: number
  /** Until when the key can be used to join (null: no limit). */
  expiresAt: number | null
  /** When every membership of the key ends (null: never). */
  memberExpiresAt: number | null
  /** Members the owner has bound with this key. */
  members: number
  reusable: boolean
  /** Most nodes the key admits (null: the network's limit). */
  maxMembers: number | null
  claimedBy: string | null
}

export interface RevokedKeyInfo {
  name: string
  revokedAt: number
}

/** `meshlan netcheck`: this node's reachability (the node's own type). */
export type NetcheckResult = Netcheck

/** `info`: the daemon process and, when it runs one, its node. */
export interface DaemonInfo {
  pid: number
  /** The running daemon's version. */
  version: string
  stateDir: string
  network: { id: string; role: 'owner' | 'member' } | null
  node: { peerId: string; ip: string | null; addrs: string[] } | null
  device: string | null
}

type NoParams = Record<string, never>

/** Operations on the network state: run by the daemon, or offline by the CLI on the state files. */
/** What `route approve` / `route revoke` did. */
export interface RouteChangeResult {
  peerId: string
  name: string | null
  route: string
  version: number
}

export interface ControllerApiMethods {
  init: { params: { name?: string | null }; result: { peerId: string; name: string; created: boolean } }
  networkCreate: {
    /**
     * `passphrase`: protect the owner key (a separate signing key, encrypted at rest; the daemon
     * stays unlocked after create). Sent over the control socket only, never in argv or a log.
     */
    params: { name: string; subnet?: string | null; force?: boolean; passphrase?: string | null }
    result: { networkId: string; name: string; subnet: string; owner: string; protected: boolean }
  }
  /** Changes the owner key's passphrase (`oldPassphrase` unless the daemon is unlocked). */
  networkProtect: {
    params: { passphrase: string; oldPassphrase?: string | null }
    result: { protected: true; file: string }
  }
  /**
   * The owner backup (a protected network only): base64 of the sealed file the CLI writes.
   * `ownerPassphrase` unless the daemon is unlocked (a wrong one counts toward the unlock lockout).
   */
  networkBackup: {
    params: { passphrase: string; ownerPassphrase?: string | null }
    result: { backup: string; networkId: string; owner: string; version: number }
  }
  /**
   * The owner key as a printable recovery phrase (24 words; a protected network only;
   * owner-phrase.ts). `ownerPassphrase` unless the daemon is unlocked (counted like an unlock).
   */
  networkPhrase: {
    params: { ownerPassphrase?: string | null }
    result: { phrase: string; networkId: string; owner: string }
  }
  keyCreate: {
    params: {
      name: string
      aclText?: string | null
      /** Until when the key can be used to join (ms since the epoch). */
      expiresAt?: number | null
      reusable?: boolean
      /** Most nodes the key admits. @default 1 (one-use) or DEFAULT_KEY_MAX_MEMBERS (reusable) */
      maxMembers?: number | null
      /** Members' route / exit-node offers the owner approves on sight. @default none */
      autoApprove?: { routes: string[]; exit: boolean } | null
      tags?: string[] | null
      /** When every membership of the key ends (ms since the epoch; null: never). */
      memberExpiresAt?: number | null
      /** Without an ACL a key reaches nothing; this grants everything explicitly. */
      allowAll?: boolean
    }
    result: {
      name: string
      joinString: string
      expiresAt: number | null
      memberExpiresAt: number | null
      /** The key reaches nothing yet (default deny). */
      denyAll: boolean
      version: number
    }
  }
  keyList: { params: NoParams; result: { keys: KeyInfo[]; revoked: RevokedKeyInfo[] } }
  /**
   * The owner names (`admin: true`) or removes a delegated admin node: a new owner-signed certificate
   * at the next epoch. The node must be a bound member.
   */
  delegateSet: { params: { node: string; admin: boolean }; result: DelegatesInfo & { version: number } }
  /** The delegated admins of the policy this node holds. */
  delegateList: { params: NoParams; result: DelegatesInfo }
  /** Owner: the same key's join string with today's bootstrap members (relays first). */
  keyRefresh: {
    params: { joinString: string }
    result: { name: string; joinString: string; bootstrap: string[] }
  }
  keyRevoke: { params: { name: string }; result: { name: string; version: number } }
  aclShow: { params: { key?: string | null }; result: { keys: Array<{ name: string; acl: unknown }> } }
  aclSet: { params: { key: string; aclText: string }; result: { key: string; version: number } }
  nodeRevoke: {
    /** `withKey`: also revoke the key the node joined with (in the same policy version). */
    params: { target: string; withKey?: boolean }
    /**
     * `warning`: the node joined with a reusable key whose join string still admits others, or
     * (withKey) the key's other members that are cut off too. `keyRevoked`: the key revoked with it.
     */
    result: {
      peerId: string
      name: string | null
      version: number
      keyRevoked: string | null
      warning: string | null
    }
  }
  /** Owner: per node, advertised routes / exit offer, approvals, primaries. */
  routeList: { params: NoParams; result: { nodes: RouteOverviewNode[] } }
  /** Owner: approve a node's advertised prefix, or `'exit'`. */
  routeApprove: { params: { node: string; route: string }; result: RouteChangeResult }
  /** Owner: withdraw an approval. */
  routeRevoke: { params: { node: string; route: string }; result: RouteChangeResult }
  join: {
    params: { joinString: string; name?: string | null }
    result: { networkId: string; owner: string; keyName: string; peerId: string; name: string }
  }
}

/** Route and exit-node settings (`[routes]` in config.toml; `meshlan set` / `meshlan up` flags). */
export interface RouteSettings {
  /** Prefixes this node offers to route. */
  advertiseRoutes: string[]
  /** Offer to be an exit node. */
  advertiseExitNode: boolean
  /** Install approved routes other nodes serve. */
  acceptRoutes: boolean
  /** The exit node used (name or overlay IP); null: none. */
  exitNode: string | null
  /** With an exit node, the host's own LAN stays reachable directly. */
  exitNodeAllowLanAccess: boolean
  /** Source-NAT traffic forwarded into advertised prefixes. */
  snatSubnetRoutes: boolean
}

/** A change: unset fields stay; `exitNode: null` or `''` clears the exit node. */
export type RouteSettingsChange = Partial<RouteSettings>

/** One audit line as `meshlan audit --json` prints it (audit-log.ts). */
export interface AuditEntry {
  ts: string
  event: string
  actor: string
  source: string
  ok: boolean
  detail: Record<string, string | number | boolean | null>
  prev: string
}

/** What `audit --verify` found (audit-log.ts: verifyAudit). */
export interface AuditVerifyInfo {
  ok: boolean
  lines: number
  bad: { file: string; line: number; reason: string } | null
  truncated: { file: string; line: number } | null
  startsMidChain: boolean
}

/** Questions only a running daemon can answer. */
export interface DaemonApiMethods {
  /** Decrypts the owner key (counted per uid by the unlock lockout). */
  unlock: { params: { passphrase: string }; result: { locked: false } }
  /**
   * Restores an owner backup on this node (a member, its node running): proves it holds the mesh's
   * newest policy, installs the key as owner.key under `passphrase`, and signs the next version
   * that makes this node the owner's node (owner-restore.ts).
   */
  networkRestore: {
    /** The backup file and its passphrase, or the recovery phrase instead of both. */
    params: { backup?: string; backupPassphrase?: string; phrase?: string; passphrase: string }
    result: {
      networkId: string
      owner: string
      /** The newest version before the restore signed, and the version it signed. */
      previousVersion: number
      version: number
      /** Old owner's nodes revoked by the restore. */
      revokedOwnerNodes: string[]
      /** Members that answered the newest-policy check. */
      peersAnswered: number
    }
  }
  /** Forgets the decrypted owner key. */
  lock: { params: NoParams; result: { locked: true } }
  /** Whether the owner key is protected and locked. */
  'lock-status': { params: NoParams; result: { protected: boolean; locked: boolean } }
  /** The audit log, oldest first (`sinceMs`: ms since the epoch). */
  audit: { params: { sinceMs?: number | null }; result: { entries: AuditEntry[] } }
  'audit-verify': { params: NoParams; result: AuditVerifyInfo }
  info: { params: NoParams; result: DaemonInfo }
  status: { params: NoParams; result: NodeStatus }
  netcheck: { params: NoParams; result: NetcheckResult }
  'dns-status': { params: NoParams; result: DnsStatus }
  ping: { params: { target: string; count?: number }; result: PingResult }
  shutdown: { params: NoParams; result: { pid: number } }
  /** Re-reads config.toml: what it applied live, and what changed but needs a restart. */
  reload: { params: NoParams; result: { live: string[]; restart: string[] } }
  /** Changes route / exit-node settings live and persists them in config.toml. */
  set: { params: RouteSettingsChange; result: RouteSettings }
  /** `meshlan admin bootstrap`: a one-time token for POST /api/bootstrap (valid 1 h, stored hashed). */
  adminBootstrap: { params: NoParams; result: { token: string; expiresAt: number } }
  /** `meshlan admin totp enable`: a pending TOTP secret, its URI and 10 recovery codes. */
  adminTotpBegin: {
    params: { username?: string | null }
    result: { username: string; secret: string; uri: string; recoveryCodes: string[] }
  }
  /** The first code from the authenticator turns TOTP on. */
  adminTotpConfirm: { params: { username?: string | null; code: string }; result: { username: string } }
  /** `meshlan admin totp disable`: needs a current TOTP code or a recovery code. */
  adminTotpDisable: { params: { username?: string | null; code: string }; result: { username: string } }
}

export type ApiMethods = ControllerApiMethods & DaemonApiMethods
export type ApiMethod = keyof ApiMethods
export type ApiParams<M extends ApiMethod> = ApiMethods[M]['params']
export type ApiResult<M extends ApiMethod> = ApiMethods[M]['result']
export type ControllerApiMethod = keyof ControllerApiMethods

/** What the Controller implements: one async function per controller method. */
export type ControllerApi = {
  [M in ControllerApiMethod]: (p: ApiParams<M>) => Promise<ApiResult<M>>
}
