/**
 * The API's answers the pages read (docs/admin-api.md; the daemon's JSON, as `meshlan ... --json`):
 * the daemon's and the node's own types, imported as types only (nothing of them is bundled).
 */
import type { AuditEntry as AuditEntryLine, AuditVerifyInfo, KeyInfo } from '@meshlan/daemon/api'
import type { Netcheck, NodeStatus, PeerStatus, RouteOverviewNode } from '@meshlan/mesh'

export interface Session {
  username: string
  csrf: string
  totp: boolean
  totpProvedAt: number | null
  ownerKey: { protected: boolean; locked: boolean } | null
}

export type Peer = PeerStatus
export type { Netcheck, NodeStatus }

export interface Status {
  info: { version: string; network: { id: string; role: string } | null; device: string | null }
  node: NodeStatus | null
  dns: { enabled: boolean; mode: string; applied: boolean } | null
  net: Netcheck | null
}

export type RouteNode = RouteOverviewNode

export interface Routes {
  nodes: RouteNode[]
}

export type Key = KeyInfo
export type AuditEntry = Omit<AuditEntryLine, 'prev'>
export type AuditVerify = AuditVerifyInfo
