/**
 * Knowing our NAT: a dial from our listening port to a member relay, upgraded, asking the relay
 * which address it sees. Same port → the NAT preserves ports (hole punching can work); another
 * port → symmetric NAT (the relay is the path). And the same question about a peer, from the
 * mapping it published in its signed record.
 */
import type { Connection } from '@libp2p/interface'
import type { NodeRecord } from '@meshlan/wire'
import { NAT_PROBE_DIAL_TIMEOUT_MS, UPGRADE_TIMEOUT_MS } from './constants.ts'
import type { PortDialer } from './holepunch.ts'
import type { Libp2pAdapter } from './libp2p-adapter.ts'
import { isRelayed } from './paths.ts'

export interface NatMapping {
  /** The address a relay saw for a dial from our listening port (`/ip4/…/tcp/…`), if probed. */
  mapped: string | null
  /** Whether the NAT kept our listening port; null until probed. */
  preservesPort: boolean | null
  checkedAt: number
}

export const UNKNOWN_MAPPING: NatMapping = { mapped: null, preservesPort: null, checkedAt: 0 }

export interface ProbeContext {
  /** Our IPv4 TCP listening port. */
  port: number
  /**
   * Direct connections to online member relays, in the order to try, with each relay's announced
   * addresses: a connection over IPv6 crosses no NAT, so the probe goes to its IPv4 address.
   */
  relays: Array<{ peerId: string; conn: Connection | undefined; addrs?: readonly string[] }>
  adapter: Libp2pAdapter
  dial: PortDialer
  /** Asks the far side of a connection which address it sees us at. */
  observe(conn: Connection): Promise<string | null>
  onError(relay: string, err: Error): void
}

const IP_PORT = /^\/ip4\/([\d.]+)\/tcp\/(\d+)/

/** Probes relays in turn until one answers; null when none could. */
export async function probeNat(ctx: ProbeContext, now = Date.now): Promise<NatMapping | null> {
  for (const r of ctx.relays) {
    const conn = r.conn
    if (conn == null || isRelayed(conn)) continue
    // IPv4 only: the question is what our IPv4 NAT does (IPv6 has none)
    const m =
      IP_PORT.exec(conn.remoteAddr.toString()) ??
      (r.addrs ?? []).map((a) => IP_PORT.exec(a)).find((x) => x != null && !x[1].startsWith('127.'))
    if (m == null) continue
    try {
      const socket = await ctx.dial({
        localPort: ctx.port,
        remoteAddress: m[1],
        remotePort: Number(m[2]),
        timeoutMs: NAT_PROBE_DIAL_TIMEOUT_MS,
      })
      const probe = await ctx.adapter.upgradeSocket(socket, 'initiator', {
        signal: AbortSignal.timeout(UPGRADE_TIMEOUT_MS),
        component: 'meshlan:natprobe',
      })
      const seen = await ctx.observe(probe)
      await probe.close().catch(() => {})
      const mp = seen == null ? null : IP_PORT.exec(seen)
      if (mp == null) continue
      return {
        mapped: `/ip4/${mp[1]}/tcp/${mp[2]}`,
        preservesPort: Number(mp[2]) === ctx.port,
        checkedAt: now(),
      }
    } catch (err) {
      ctx.onError(r.peerId, err as Error)
    }
  }
  return null
}

/** The IP of a mapping address, or null. */
export function mappingIp(mapped: string): string | null {
  return IP_PORT.exec(mapped)?.[1] ?? null
}

/** A peer whose own probe says its NAT changed the port of a dial from its listening port. */
export function peerIsSymmetric(rec: NodeRecord | undefined): boolean {
  if (rec?.observed == null || rec.observed.length === 0) return false
  const ports = new Set(rec.addrs.map((a) => /\/tcp\/(\d+)/.exec(a)?.[1]).filter((p) => p != null))
  return rec.observed.some((o) => {
    const p = /\/tcp\/(\d+)/.exec(o)?.[1]
    return p != null && !ports.has(p)
  })
}
