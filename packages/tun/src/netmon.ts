/**
 * Interface address and link changes in this network namespace, from rtnetlink (native/netmon.c):
 * the daemon reads the interface list once per change instead of on a timer.
 */
import { loadAddon } from './addon.ts'

/** A running watch; close() is idempotent. It never keeps the process alive by itself. */
export interface InterfaceWatch {
  close(): void
}

interface NetmonAddon {
  watch(onChange: (ended: boolean) => void): InterfaceWatch
}

/**
 * Calls `onChange(false)` after an interface's addresses or link state changed (several changes in
 * one wake-up are one call; changes the kernel could not queue for us count as one). When the
 * socket fails the watch ends with `onChange(true)`: from then on nothing is reported and the
 * caller must read the list itself. Throws TunAddonMissingError when the addon is not built, and
 * an Error with the errno name as `code` when the netlink socket cannot be opened.
 */
export function watchInterfaces(onChange: (ended: boolean) => void): InterfaceWatch {
  return loadAddon<NetmonAddon>('meshlan_netmon').watch(onChange)
}
