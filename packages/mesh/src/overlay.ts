/**
 * The overlay's own addresses never leave the overlay: a connection to one of them would run inside
 * the tunnel itself (and deadlock when the outer path goes). Announce filters, the gater and every
 * candidate list ask this.
 */
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os'
import { type InterfaceWatch, watchInterfaces } from '@meshlan/tun'
import { ipToUint32, parseCidr } from '@meshlan/wire'
import { INTERFACES_UNWATCHED_REUSE_MS } from './constants.ts'
import { isGlobalIpv6 } from './ip-family.ts'

/** False for an address (multiaddr or dotted quad) inside the overlay `subnet`. */
export function isUnderlay(addrOrIp: string, subnet: string | null): boolean {
  if (subnet == null) return true
  const ip = ipToUint32(/^\/ip4\/([\d.]+)/.exec(addrOrIp)?.[1] ?? addrOrIp)
  const c = parseCidr(subnet)
  return ip < 0 || !c.ok || (ip & c.mask) >>> 0 !== c.base
}

/**
 * The host's interface list, read again only after it changed. `os.networkInterfaces()` dumps
 * every address over netlink (getifaddrs): ~5 % of an idle daemon's CPU when the record check read
 * it twice every 30 s (docs/benchmarks.md "Session 17"). With the kernel's change notifications
 * (@meshlan/tun watchInterfaces, one netlink socket per process, opened on first use) the list
 * is read once per change; without them (no addon, a sandbox without netlink, or the watch ended)
 * a read is reused for INTERFACES_UNWATCHED_REUSE_MS.
 */
class HostInterfaces {
  private list: NetworkInterfaceInfo[] | null = null
  private readAt = 0
  /** undefined: not tried yet; null: none (reads are reused for a short while only). */
  private watch: InterfaceWatch | null | undefined
  private readonly listeners = new Set<() => void>()

  current(): readonly NetworkInterfaceInfo[] {
    this.ensureWatch()
    const now = performance.now()
    if (this.list == null || (this.watch == null && now - this.readAt >= INTERFACES_UNWATCHED_REUSE_MS)) {
      this.list = Object.values(networkInterfaces()).flatMap((l) => l ?? [])
      this.readAt = now
    }
    return this.list
  }

  /** Calls `fn` after the kernel reported a change (never without a watch); returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.ensureWatch()
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  get watched(): boolean {
    this.ensureWatch()
    return this.watch != null
  }

  private ensureWatch(): void {
    if (this.watch !== undefined) return
    try {
      this.watch = watchInterfaces((ended) => {
        this.list = null
        if (ended) this.watch = null
        for (const fn of this.listeners) fn()
      })
    } catch {
      // no addon, or no netlink socket here: reads are reused for a short while instead
      this.watch = null
    }
  }
}

const host = new HostInterfaces()

/** Every address of every interface (os.networkInterfaces(), flattened): the one reader of that list. */
export function hostInterfaces(): readonly NetworkInterfaceInfo[] {
  return host.current()
}

/**
 * This host's IPv4 addresses, every interface (the overlay's TUN included: callers filter with
 * isUnderlay); loopback too unless `withLoopback` is false.
 */
export function hostIpv4s(withLoopback = true): string[] {
  const out: string[] = []
  for (const a of host.current())
    if (a.family === 'IPv4' && (withLoopback || !a.internal)) out.push(a.address)
  return out
}

/**
 * This host's global unicast IPv6 addresses (isGlobalIpv6), every interface: the only IPv6
 * addresses we announce. The overlay is IPv4-only, so none of them is inside it.
 */
export function hostGlobalIpv6s(): string[] {
  const out: string[] = []
  for (const a of host.current()) if (a.family === 'IPv6' && isGlobalIpv6(a.address)) out.push(a.address)
  return [...new Set(out)]
}

/**
 * Calls `fn` after this host's interface addresses or links changed, as the kernel reports them;
 * never when no watch runs (hostInterfacesWatched() false: callers keep their own period).
 * Returns the unsubscribe.
 */
export function onHostInterfacesChange(fn: () => void): () => void {
  return host.onChange(fn)
}

/** Whether interface changes are reported (onHostInterfacesChange) rather than polled. */
export function hostInterfacesWatched(): boolean {
  return host.watched
}
