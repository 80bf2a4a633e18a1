/** The API's answers the pages read (docs/admin-api.md; the daemon's JSON, as `meshlan ... --json`). */

export interface Session {
  username: string
  csrf: string
  totp: boolean
  totpProvedAt: number | null
  ownerKey: { protected: boolean; locked: boolean } | null
}

export interface Peer {
  name: string
  ip: string
  peerId: string
  path: 'direct' | 'relay' | 'none'
  rttMs: number | null
  rxBytes: number
  txBytes: number
  key: string
  bound: boolean
  online: boolean
  via: string | null
  why: string | null
  routes: string[]
  exitNode: boolean
  version: string | null
  /** ms since the epoch: now while connected, else its record's time (PeerStatus.lastSeen). */
  lastSeen?: number | null
}

export interface NodeStatus {
  self: {
    name: string
    ip: string | null
    peerId: string
    network: { id: string; name: string | null; subnet: string | null; owner: string; policyVersion: number }
    key: string | null
    routes: { advertised: string[]; approved: string[] }
    exitNode: string | null
    version: string | null
  }
  peers: Peer[]
  drops: Record<string, number>
}

export interface Status {
  info: { version: string; network: { id: string; role: string } | null; device: string | null }
  node: NodeStatus | null
  dns: { enabled: boolean; mode: string; applied: boolean } | null
  net: Netcheck | null
}

/** What `meshlan netcheck` shows (the node's view, no probing). */
export interface Netcheck {
  observed: string[]
  natMapping: string | null
  natPreservesPort: boolean | null
  behindNat: boolean | null
  relay: boolean
  relayMode: string
  relayReason: string
  relays: Array<{ peerId: string; name: string; rttMs: number | null; reserved: boolean }>
  portMapping: { enabled: boolean; state: string }
}

export interface RouteNode {
  peerId: string
  name: string
  ip: string | null
  advertised: string[]
  approved: string[]
  primary: string[]
  exitNode: { advertised: boolean; approved: boolean }
}

export interface Routes {
  nodes: RouteNode[]
}

export interface Key {
  name: string
  tags: string[]
  createdAt: number
  expiresAt: number | null
  memberExpiresAt: number | null
  reusable: boolean
  claimedBy: string | null
  maxMembers: number
  members: number
}

export interface AuditEntry {
  ts: string
  event: string
  actor: string
  source: string
  ok: boolean
  detail: Record<string, string | number | boolean | null>
}

export interface AuditVerify {
  ok: boolean
  lines: number
  bad: { file: string; line: number; reason: string } | null
  truncated: { file: string; line: number } | null
  startsMidChain: boolean
}
