/**
 * Who is on the other end of a connected Unix socket: SO_PEERCRED, which Node does not expose.
 * The kernel records the peer's pid/uid/gid at connect() time, so a server can refuse users
 * whatever the socket file's permissions (native/peercred.c).
 */
import type { Socket } from 'node:net'
import { loadAddon } from './addon.ts'

/** The credentials of a Unix socket's peer process, as the kernel recorded them at connect(). */
export interface PeerCredentials {
  pid: number
  uid: number
  gid: number
}

interface PeerCredAddon {
  peerCredentials(fd: number): PeerCredentials
  notify(socketPath: string, message: string): number
  peerGroups(fd: number): number[]
  trimMalloc(): boolean
  dropFilePages(): number
}

function peerCredAddon(): PeerCredAddon {
  return loadAddon<PeerCredAddon>('meshlan_peercred')
}

/**
 * The peer credentials of a connected Unix socket's file descriptor. Throws an Error whose `code`
 * is the errno name (`ENOTSOCK`, `EBADF`, ...) or TunAddonMissingError when the addon is not built.
 */
export function peerCredentials(fd: number): PeerCredentials {
  return peerCredAddon().peerCredentials(fd)
}

/**
 * The file descriptor under a connected `net.Socket`, or null when it has none (not connected,
 * destroyed, or not backed by a kernel socket).
 *
 * The ONE place that reads a Node private field: `socket._handle.fd` (the libuv stream's fd, on
 * Unix). Node has no public accessor. packages/daemon/test/peercred.test.ts is the contract test: it fails loudly
 * when a Node upgrade renames or removes the field.
 */
export function socketFd(socket: Socket): number | null {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle
  const fd = handle?.fd
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : null
}

/**
 * The supplementary group ids of a Unix socket's peer at connect() (SO_PEERGROUPS); its primary
 * group is in {@link peerCredentials}. Throws like peerCredentials.
 */
export function peerGroups(fd: number): number[] {
  return peerCredAddon().peerGroups(fd)
}

/** {@link peerCredentials} of a connected `net.Socket`; null when it has no fd (see socketFd). */
export function socketPeerCredentials(socket: Socket): PeerCredentials | null {
  const fd = socketFd(socket)
  return fd == null ? null : peerCredentials(fd)
}

/**
 * sd_notify(3): tells systemd about the service's state (`READY=1`, `RELOADING=1`,
 * `STOPPING=1`, `STATUS=...`) through NOTIFY_SOCKET. Without NOTIFY_SOCKET (not a Type=notify
 * service) it does nothing and returns false; an I/O error is returned as its errno name, never
 * thrown: a service must not die because the notification could not be sent.
 */
export function sdNotify(message: string, env: NodeJS.ProcessEnv = process.env): boolean | string {
  const socket = env.NOTIFY_SOCKET
  if (socket == null || socket === '') return false
  const err = peerCredAddon().notify(socket, message)
  return err === 0 ? true : `errno ${err}`
}

/**
 * glibc's malloc_trim(0): freed memory anywhere in malloc's heaps goes back to the kernel, where
 * glibc by itself returns only the heap's top (Node's ArrayBuffer data lives there). ~1 ms: for
 * quiet moments (the daemon's heap trim). true when memory was released. Throws
 * TunAddonMissingError when the addon is not built.
 */
export function trimMalloc(): boolean {
  return peerCredAddon().trimMalloc()
}

/**
 * Unmaps the process's clean file-backed pages (the node binary's code and read-only data, shared
 * libraries; never a mapping with copy-on-write pages) and returns how many bytes were resident in
 * them. The pages stay in the page cache and come back on their next touch (a minor fault), so what
 * the process still uses is mapped again within moments and what only start-up used stops counting
 * in its RSS. Reads /proc/self/smaps: a few ms, for quiet moments. Throws TunAddonMissingError when
 * the addon is not built.
 */
export function dropFilePages(): number {
  return peerCredAddon().dropFilePages()
}
