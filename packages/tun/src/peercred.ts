/**
 * Who is on the other end of a connected Unix socket: SO_PEERCRED, which Node does not expose.
 * The kernel records the peer's pid/uid/gid at connect() time, so a server can refuse users
 * whatever the socket file's permissions (native/peercred.c).
 */
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { TunAddonMissingError } from './errors.ts'

/** The credentials of a Unix socket's peer process, as the kernel recorded them at connect(). */
export interface PeerCredentials {
  pid: number
  uid: number
  gid: number
}

interface PeerCredAddon {
  peerCredentials(fd: number): PeerCredentials
}

let addon: PeerCredAddon | undefined

function peerCredAddon(): PeerCredAddon {
  if (addon) return addon
  const require = createRequire(import.meta.url)
  try {
    addon = require('../build/Release/meshlan_peercred.node') as PeerCredAddon
  } catch (cause) {
    throw new TunAddonMissingError({ cause })
  }
  return addon
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

/** {@link peerCredentials} of a connected `net.Socket`; null when it has no fd (see socketFd). */
export function socketPeerCredentials(socket: Socket): PeerCredentials | null {
  const fd = socketFd(socket)
  return fd == null ? null : peerCredentials(fd)
}
