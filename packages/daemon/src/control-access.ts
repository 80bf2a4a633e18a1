/**
 * Who may use the control socket besides root and the daemon's own user: members of the
 * `meshlan` group run read-only commands (status, ping, netcheck, …), members of `meshlan-admin`
 * everything. Group ids come from /etc/group (Node has no getgrnam); a group that does not exist
 * grants nothing. The decision is made from the kernel's record of the peer at connect()
 * (SO_PEERCRED, SO_PEERGROUPS), never from the socket file's mode alone.
 */
import { readFileSync } from 'node:fs'
import { CONTROL_ADMIN_GROUP, CONTROL_GROUP, CONTROL_GROUPS_ENV } from './constants.ts'

/** Methods that show state and change nothing: what the read group may call. */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  'info',
  'status',
  'netcheck',
  'dns-status',
  'ping',
])

export interface ControlAccess {
  /** gid whose members may call READ_ONLY_METHODS; null: nobody beyond root and the daemon's user. */
  readGid: number | null
  /** gid whose members may call everything; null: nobody beyond root and the daemon's user. */
  adminGid: number | null
}

/** The gid of group `name` in /etc/group-formatted `text`, or null. */
export function gidOf(name: string, text: string): number | null {
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':')
    if (n === name && gid != null && /^\d+$/.test(gid)) return Number(gid)
  }
  return null
}

/** The access groups of this host (names from MESHLAN_CONTROL_GROUPS=`READ,ADMIN`, or the defaults). */
export function controlAccess(env: NodeJS.ProcessEnv = process.env, groupFile = '/etc/group'): ControlAccess {
  const [read, admin] = (env[CONTROL_GROUPS_ENV] ?? `${CONTROL_GROUP},${CONTROL_ADMIN_GROUP}`).split(',')
  let text = ''
  try {
    text = readFileSync(groupFile, 'utf8')
  } catch {}
  return {
    readGid: read ? gidOf(read.trim(), text) : null,
    adminGid: admin ? gidOf(admin.trim(), text) : null,
  }
}

export type ControlRole = 'admin' | 'read'

/** The role of a peer (uid, primary gid, supplementary gids), or null: refused. */
export function roleOf(
  peer: { uid: number; gid: number; groups: readonly number[] },
  daemonUid: number,
  access: ControlAccess,
): ControlRole | null {
  if (peer.uid === 0 || peer.uid === daemonUid) return 'admin'
  const has = (gid: number | null) => gid != null && (peer.gid === gid || peer.groups.includes(gid))
  if (has(access.adminGid)) return 'admin'
  if (has(access.readGid)) return 'read'
  return null
}
