/**
 * Underlay addresses we are about to dial, held for a while so the exit client's `throw` routes
 * cover them before the first SYN (issue 9 review finding). Why not every address in members'
 * records: a member chooses its record, so it could list internet addresses whose traffic from us
 * would then skip the exit node. Only addresses we dial ourselves, for as long as the dial may
 * take, plus those we hold connections to (the node adds those), are bypassed.
 */
import type { Logger } from '../logger.ts'

/**
 * How long a dialled address stays bypassed: longer than a libp2p dial (5 s) or a punch window,
 * after which an open connection keeps it bypassed through the recompute it triggers.
 */
export const DIAL_BYPASS_HOLD_MS = 30_000
/** At most this many held at once: each is one kernel route on an exit client. */
export const MAX_DIAL_BYPASS = 256

export class DialBypass {
  /** ip → when the hold ends (insertion order = age, for eviction). */
  private readonly held = new Map<string, number>()

  /** Holds `ip` until `now + DIAL_BYPASS_HOLD_MS`; true when it was not held before. */
  hold(ip: string, now = Date.now()): boolean {
    const fresh = !this.live(ip, now)
    this.held.delete(ip)
    this.held.set(ip, now + DIAL_BYPASS_HOLD_MS)
    // bounded: a flood of dials (a member listing many addresses) evicts the oldest holds
    while (this.held.size > MAX_DIAL_BYPASS) {
      const oldest = this.held.keys().next().value
      if (oldest === undefined) break
      this.held.delete(oldest)
    }
    return fresh
  }

  /**
   * Before a dial to `addr` (a multiaddr or an IP): an underlay address not held yet is held and
   * handed to `bypass` (the daemon adds its `throw` route); a failure is logged, the dial goes on.
   */
  async before(
    addr: string,
    underlay: (ip: string) => boolean,
    bypass: (ip: string) => Promise<void>,
    log: Pick<Logger, 'warn'>,
  ): Promise<void> {
    const ip = dialTarget(addr)
    if (ip == null || !underlay(ip) || ip.startsWith('127.') || !this.hold(ip)) return
    try {
      await bypass(ip)
    } catch (err) {
      log.warn('could not route a dialled address outside the exit node', { ip, error: String(err) })
    }
  }

  /** The addresses held now (expired ones forgotten). */
  list(now = Date.now()): string[] {
    for (const [ip, until] of this.held) if (until <= now) this.held.delete(ip)
    return [...this.held.keys()]
  }

  private live(ip: string, now: number): boolean {
    const until = this.held.get(ip)
    return until !== undefined && until > now
  }
}

const FIRST_IP4 = /^\/ip4\/(\d{1,3}(?:\.\d{1,3}){3})(?:\/|$)/

/** The IPv4 address a dial goes to first (a multiaddr's leading /ip4/, or an IP); null for others. */
export function dialTarget(addrOrIp: string): string | null {
  if (!addrOrIp.startsWith('/')) return /^\d{1,3}(?:\.\d{1,3}){3}$/.test(addrOrIp) ? addrOrIp : null
  return FIRST_IP4.exec(addrOrIp)?.[1] ?? null
}
