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
/**
 * The punch window: every dial of one exchange (refusals retried) ends within this. Behind routers
 * that drop, the first SYNs cross at once (the kernel retransmits meanwhile); behind routers that
 * reset, the lab's worst case was 3.7 s of retries at a 5 ms pace (median 136 ms at 2 ms).
 */
export const PUNCH_TIMEOUT_MS = 5_000
/**
 * A dial refused by a RST (the far NAT had no mapping yet, or rejects) is tried again after this
 * fraction of the relay RTT (jittered ×0.5–1.5). Each try opens our NAT's mapping from the SYN
 * until the far NAT's RST comes back — about one direct RTT, and the relay RTT is at least that —
 * so waiting 1/8 of it keeps our mapping open ≥ ~80% of the time and the peer's SYN, sent at
 * about the same moment, finds it open (a simultaneous open). The jitter keeps two equal paces
 * from locking into a phase where the mappings never overlap.
 */
export const PUNCH_REDIAL_RTT_FRACTION = 1 / 8
/**
 * The pace's floor. In the lab the NATs are ~30 µs apart, so the overlap is luck and the pace is
 * all that matters; 15 runs per value through two rejecting NATs (before the listener case was
 * handled, so it counts as a failure there): 1 ms → 14/15 direct (median
 * 144 ms), 2 ms → 15/15 (136 ms), 3 ms → 15/15 (195 ms), 5 ms → 13/15 (552 ms, two ran out of
 * the window). 2 ms also caps one candidate at 500 SYNs/s.
 */
export const PUNCH_REDIAL_MIN_MS = 2
/** The pace's ceiling: a 400 ms relay RTT still tries 20 times a second. */
export const PUNCH_REDIAL_MAX_MS = 50
/**
 * All dials of one exchange, every candidate together. The lab's rejecting NATs needed up to ~700
 * tries per side at a 5 ms pace (median 70 at 2 ms); a real path (RTT ≥ 1 ms) needs a handful.
 * Bounded because a hostile member chooses where our SYNs go: at most this many per peer per
 * PUNCH_RESPONDER_BACKOFF_MS, and only to addresses that answer with a RST.
 */
export const MAX_PUNCH_ATTEMPTS = 1_000
/**
 * A punch try nobody answered is sent again from a fresh socket after two relay RTTs,
 * at least 25 ms, at most 1 s (counted in MAX_PUNCH_ATTEMPTS: at most PUNCH_TIMEOUT_MS / 25 ms per
 * candidate). Why: behind a home firewall that drops, our SYN vanishes without a refusal, while
 * the peer — behind one that resets — retries through its refusals, and each of its RSTs closes
 * our router's state for the pair again; our SYN gets in only while the peer's latest SYN holds
 * that state open. The kernel's own retransmissions (1 s, 3 s) hit that window by luck. Never
 * sooner than two RTTs: a fresh socket would answer the peer's SYN-ACK to the old one with a RST.
 * First for IPv6; IPv4 since the double-NAT lab failed the same way (a behind two rejecting NATs
 * silent for three whole windows while b's 1,000 refused tries ran out in 2–4 s; 1 failure in 4
 * local runs before, 0 in 6 after).
 */
export const PUNCH_SILENT_REDIAL_RTTS = 2
export const PUNCH_SILENT_REDIAL_MIN_MS = 25
export const PUNCH_SILENT_REDIAL_MAX_MS = 1_000
/**
 * After a simultaneous open the smaller peer id speaks first. But the peer's SYN can arrive in
 * the instant between one of our refused tries and the next: then the peer's listener accepted
 * it (its side upgrades as responder, always) and our next try finds the address pair taken.
 * The responder by id therefore waits this long for the initiator's first bytes, and takes the
 * initiator's part when none come; only that rare case pays the wait.
 *
 * Why 2.5 s: the two ends of a simultaneous open need not connect at the same time. When the
 * responder's SYN-ACK is lost, it is connected (the initiator's SYN-ACK reached it) while the
 * initiator waits one initial RTO (1 s, RFC 6298) to send its SYN-ACK again and only then connects
 * and speaks. With 1 s the responder gave up at the same instant and both ends took the initiator's
 * part (Noise timed out on both: a CI failure of the double-NAT lab). 2.5 s covers one lost
 * handshake segment, the RTT and a loaded event loop; two losses (3 s) cost a retried punch.
 */
export const PUNCH_FIRST_BYTES_MS = 2_500
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
 * Of those, at most this many our own IPv6 addresses (a host with SLAAC privacy addresses has
 * several): IPv4 keeps room for its observed and LAN candidates.
 */
export const MAX_PUNCH_IPV6_CANDIDATES = 2
/**
 * When an IPv4 punch connects while an IPv6 one is still pending, wait this long (at most) for
 * the IPv6 socket: both sides must pick the same socket, and the rule is "IPv6 when both
 * connected". One relay RTT, clamped: the peer's end of a socket we hold connects within one RTT.
 */
export const PUNCH_IPV6_GRACE_MIN_MS = 20
export const PUNCH_IPV6_GRACE_MAX_MS = 500
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

/** "Dial me back": a member asks another to open a fresh TCP connection to where it sees it. */
export const DIALBACK_PROTOCOL = '/meshlan/dialback/1.0.0'
/** A dial-back request (a port) or answer (ok/fail and one multiaddr): well under 256 bytes. */
export const MAX_DIALBACK_MESSAGE = 256
/** The dial-back's TCP connect: a SYN and its SYN-ACK across the Internet; 3 s is a dead path. */
export const DIALBACK_DIAL_TIMEOUT_MS = 3_000
/** The whole ask (stream open, the dial, the answer): the dial plus two round trips. */
export const DIALBACK_ASK_TIMEOUT_MS = 5_000
/**
 * A member dials another back at most once per this long: honest askers ask every
 * RELAY_RECONFIRM_MS once confirmed and RELAY_CONFIRM_RETRY_MS while not, rotating members, so this
 * only bounds a hostile one (one SYN to its own address per 5 s).
 */
export const DIALBACK_RESPONDER_WINDOW_MS = 5_000
/**
 * relay = "auto" while not confirmed: ask one outside member to dial us back this often. A new
 * network's first public member should relay within a second or two of its first NATed member.
 */
export const RELAY_CONFIRM_RETRY_MS = 1_000
/**
 * relay = "auto": after a round that found nobody to ask (no member outside our network is
 * connected, or we are behind a NAT), the next round waits this long unless a connection opens
 * first (a new member is the only thing that gives us someone to ask). Idle CPU (issue 14): the
 * 1 s retry read the host's interfaces and walked every connection each second, in every
 * network whose members share one LAN.
 */
export const RELAY_CONFIRM_IDLE_MS = 60_000
/** relay = "auto" while serving: confirm again this often (an address or firewall may change). */
export const RELAY_RECONFIRM_MS = 60_000
/** A confirmation counts this long: three re-confirmations missed and we stop relaying. */
export const RELAY_CONFIRM_TTL_MS = 3 * RELAY_RECONFIRM_MS
/** Failed dial-backs in a row, from outside members, that stop relaying at once (one may be a blip). */
export const RELAY_FAILS_TO_STOP = 2

/** Port mapping (UPnP IGD / NAT-PMP, port-mapping.ts): what the router's mapping table shows. */
export const PORT_MAP_DESCRIPTION = 'meshlan'
/**
 * Finding a gateway (SSDP search, then NAT-PMP's external-address request): a router on the LAN
 * answers in milliseconds (lab: miniupnpd 90 ms); one that hasn't in 3 s has no UPnP for us, and
 * start never waits for it anyway (the search runs in the background).
 */
export const PORT_MAP_DISCOVER_TIMEOUT_MS = 3_000
/** NAT-PMP's own share of that: a UDP request to the default gateway, retried by the library. */
export const NAT_PMP_TIMEOUT_MS = 2_000
/** One map / renew / unmap request (a SOAP call or a UDP exchange on the LAN). */
export const PORT_MAP_REQUEST_TIMEOUT_MS = 5_000
/** Removing the mapping on `down`: bounded so a router that went away never holds up stop. */
export const PORT_UNMAP_TIMEOUT_MS = 2_000
/**
 * The lease we ask for: an hour. A daemon that dies without `down` leaves a stale mapping for at
 * most this long, and renewals are rare; the library rounds UPnP leases up to an hour anyway.
 */
export const PORT_MAP_LIFETIME_MS = 60 * 60_000
/** UPnP's floor in @achingbrain/nat-port-mapper 4.0.5 (`Math.max(ttl, 3600)` seconds). */
export const UPNP_MIN_LEASE_MS = 60 * 60_000
/** Renew when this fraction of the lease is left: half, so one failed renewal has time to retry. */
export const PORT_MAP_RENEW_AT_FRACTION = 0.5
/** A failed renewal is tried again this soon (the lease still has up to half an hour). */
export const PORT_MAP_RETRY_MS = 30_000
/**
 * No gateway, or it refused: look again this often. Routers reboot and UPnP gets switched on;
 * an SSDP search every 10 minutes costs one multicast packet.
 */
export const PORT_MAP_REDISCOVER_MS = 10 * 60_000

/**
 * Join strings (join-bootstrap.ts): bootstrap addresses in all. A newcomer dials them in order
 * (each up to BOOTSTRAP_DIAL_TIMEOUT_MS), and the string is pasted by hand: 12 addresses keep it
 * near 2 KB and cover four relays, the issuing node and a few members.
 */
export const JOIN_MAX_ADDRS = 12
/** Member relays a join string names first: more than one so one offline relay is no dead end. */
export const JOIN_MAX_RELAYS = 4
/** Addresses per other member: one per uplink is plenty; more only lengthens the string. */
export const JOIN_ADDRS_PER_MEMBER = 2

// ---- a member relay's share of its capacity (relay-governor.ts, relay-share.ts) ----------------

/**
 * How often a relay recomputes each member's share and resumes members that earned tokens again.
 * 100 ms: short against a TCP flow's patience (a paused member's sender just sees a slower path),
 * long enough that one tick's bookkeeping (a pass over the relay's streams) costs nothing.
 */
export const RELAY_SHARE_TICK_MS = 100
/**
 * The share of one core the relay's process used over a tick (`process.cpuUsage()`) above which it
 * counts as busy: its CPU, not the members, limits what it forwards (the node runs on one thread).
 * Only then (without `[nat] relay_rate_mbit`) are members held to equal shares; below it nobody
 * is slowed.
 */
export const RELAY_BUSY_CPU = 0.9
/**
 * A busy relay gives its members together this fraction of what they got in the last tick, so its
 * own tunnel traffic and control plane keep the rest of its CPU (they never starve).
 */
export const RELAY_BUSY_BACKOFF = 0.8
/** Once no longer busy, the members' budget grows by this factor per tick until it is lifted. */
export const RELAY_IDLE_GROWTH = 1.5
/**
 * Every member may relay at least this much per tick, whatever its share (128 KiB per 100 ms is
 * ~10 Mbit/s): a budget squeezed by a busy relay never starves a member's keepalives and pings.
 */
export const RELAY_SHARE_FLOOR_BYTES = 128 * 1024
/**
 * A member's token bucket holds at most this many ticks of its share: a short burst after a quiet
 * spell passes unslowed, a long one is paced.
 */
export const RELAY_BUCKET_TICKS = 2
/**
 * While a member's share is limited, its hop and stop streams' windows hold this many ticks of its
 * share, split over its streams (between YAMUX_INITIAL_WINDOW and YAMUX_RELAYED_MAX_WINDOW): enough
 * to keep the share flowing at round trips up to two ticks (200 ms), and what one resume can
 * release at once is about a tick's share instead of a grown window per stream.
 */
export const RELAY_THROTTLED_WINDOW_TICKS = 2
/**
 * Circuits one member may have open through a member relay at once (as their source). A member
 * reaches each peer it cannot reach directly over one circuit, so 32 covers a member behind a
 * symmetric NAT in a mesh of that many such peers; it bounds what one member can make the relay
 * buffer: a stalled circuit holds up to YAMUX_RELAYED_MAX_WINDOW (4 MiB), 128 MiB per member.
 */
export const RELAY_MAX_CIRCUITS_PER_MEMBER = 32
/** Members a relay keeps accounts for (usage, quota, throttle counters); the least recent goes. */
export const RELAY_MAX_MEMBER_ACCOUNTS = 1024
/** `[nat] relay_quota_period` by default: a member's quota renews daily. */
export const RELAY_QUOTA_PERIOD_MS = 24 * 60 * 60 * 1000
