/**
 * Underlay addresses we are about to dial, held for a while so the exit client's `throw` routes
 * cover them before the first SYN (issue 9 review finding). Why not every address in members'
 * records: a member chooses its record, so it could list internet addresses whose traffic from us
 * would then skip the exit node. Only addresses we dial ourselves, for as long as the dial may
 * take, plus those we hold connections to (the node adds those), are bypassed.
 */

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
