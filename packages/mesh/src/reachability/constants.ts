/**
 * Every timeout, bound and back-off of the reachability service, each with the reason for its
 * value. The intervals shared with the rest of the node (RELAY_MAINTAIN_MS, NAT_PROBE_MS,
 * DIRECT_WATCH_MS, DIRECT_WATCH_TIMEOUT_MS) stay in ../constants.ts: one definition each.
 */

/** Our hole-punch protocol (the libp2p DCUtR spec's id and messages, our own TCP dialling). */
export const DCUTR_PROTOCOL = '/libp2p/dcutr'
/** "Which address do you see me at?": members tell each other their public mapping. */
export const OBSERVE_PROTOCOL = '/meshlan/observe/1.0.0'
/** Largest observe answer: one multiaddr in text form is < 100 bytes; 1 KiB is generous. */
export const MAX_OBSERVE_ANSWER = 1024
/** Observe stream open + answer: one round trip on a live connection; 3 s covers a slow relay. */
export const OBSERVE_TIMEOUT_MS = 3_000
/** Concurrent DCUtR / observe streams per connection: one exchange at a time is normal. */
export const DCUTR_MAX_STREAMS = 4
export const OBSERVE_MAX_STREAMS = 8

/** Opening the DCUtR stream on the relayed connection (a relay hop each way). */
export const DCUTR_OPEN_TIMEOUT_MS = 5_000
/** The whole CONNECT/CONNECT/SYNC exchange: three messages over the relay. */
export const DCUTR_EXCHANGE_TIMEOUT_MS = 10_000
/** One simultaneous-open attempt: the SYNs must cross within a few RTTs or the NAT won't let them. */
export const PUNCH_TIMEOUT_MS = 5_000
/** Between the candidate dials: the preferred candidate gets its SYN out first. */
export const PUNCH_STAGGER_MS = 20
/** Noise + Yamux over a punched or probe socket: two round trips, generous for a loaded link. */
export const UPGRADE_TIMEOUT_MS = 10_000

/**
 * Candidate addresses we dial per punch (either side) and announce in a CONNECT. A member reaches
 * us at its public mapping plus, behind a shared NAT, one or two LAN interfaces; every dial is a
 * SYN from our listening port to an address the peer chose, so this caps what a hostile member can
 * make us scan per CONNECT.
 */
export const MAX_PUNCH_DIALS = 4
/**
 * The responder refuses a CONNECT from a peer it handled less than this long ago. Honest initiators
 * never ask sooner: their retry back-off starts at PUNCH_RETRY_BASE_MS (10 s) and a re-punch after
 * a dead direct path waits REPUNCH_AFTER_FALLBACK_MS after ≥ 2 missed watchdog pings.
 */
export const PUNCH_RESPONDER_BACKOFF_MS = 5_000
/** Per-peer back-off state we keep (members only; the oldest entry goes first). */
export const MAX_BACKOFF_ENTRIES = 1024

/** A failed punch is retried after 10 s, then 20 s, 40 s … (the NAT may need a moment) … */
export const PUNCH_RETRY_BASE_MS = 10_000
/** … up to 5 min: a symmetric NAT won't change its mind, but a network change might. */
export const PUNCH_RETRY_MAX_MS = 5 * 60_000
/** Punch after a relayed connection opens: let identify and the tunnel stream go first. */
export const PUNCH_AFTER_RELAYED_MS = 100
/** Re-punch after the watchdog dropped a direct path: let the fallback onto the relay settle. */
export const REPUNCH_AFTER_FALLBACK_MS = 3_000
/** Watchdog: consecutive missed pings before a direct path counts as dead. */
export const DIRECT_MISSES_TO_FALLBACK = 2
/** Watchdog: a peer counts as active when its tunnel moved packets this recently. */
export const TUNNEL_ACTIVE_WINDOW_MS = 3_000

/**
 * Public IPs members observed for us that we keep (the most recent ones). A host has one public
 * address per uplink; a few cover multi-homing and an address change, older ones are stale.
 * Bounded so a member claiming many addresses can't grow our state or our CONNECT messages.
 */
export const MAX_OBSERVED_IPS = 4

/** Relays we hold reservations on: two, so losing one leaves a relayed path at once. */
export const RESERVED_RELAYS = 2
/** A relay just appeared and we hold no reservation: reserve this soon instead of next tick. */
export const RELAY_SOON_MS = 200
/** First relay maintenance + NAT probe after start: the listeners and first dials settle. */
export const FIRST_PROBE_MS = 300
/** Pinging a relay to rank it: one round trip, 3 s is a relay we don't want anyway. */
export const RELAY_PING_TIMEOUT_MS = 3_000
/** NAT probe: dial from the listening port to a relay; a SYN and its answer. */
export const NAT_PROBE_DIAL_TIMEOUT_MS = 3_000

/** Dialling through one relay (reservation lookup + hop + stop + upgrade). */
export const RELAY_DIAL_TIMEOUT_MS = 2_000
/** Direct dial when there is no relay to fall back on: the only way, so wait longer. */
export const DIRECT_ONLY_DIAL_TIMEOUT_MS = 8_000
/** Direct dial to a peer behind our own NAT (LAN): fast when it works. */
export const DIRECT_SAME_NAT_DIAL_TIMEOUT_MS = 2_500
/** Direct dial before a relayed fallback (public peer). */
export const DIRECT_DIAL_TIMEOUT_MS = 4_000
/** Rank for an unknown relay in dial order: after connected ones, before dead ones. */
export const RELAY_SCORE_UNKNOWN = 1e3
export const RELAY_SCORE_DISCONNECTED = 1e6
/** Refused DCUtR exchanges (back-off, caps) are logged at most once per this long; the rest are counted. */
export const PUNCH_REFUSAL_LOG_MS = 5_000
