/**
 * Every default of the mesh node, in one place. Init types document each with @default pointing
 * here; the daemon and CLI read these, never copy them.
 */

/** Default overlay subnet of a new network. */
export const DEFAULT_SUBNET = '10.144.0.0/16'
/** Private IPv4 ranges: RFC 1918 and RFC 6598 (carrier-grade NAT, also Tailscale's). */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'] as const
/** Link-local IPv4 (RFC 3927): a LAN address too, never an overlay subnet. */
export const LINK_LOCAL_RANGE = '169.254.0.0/16'
/** Tailscale's CGNAT range: refused as an overlay subnet unless forced. */
export const TAILSCALE_RANGE = '100.64.0.0/10'
/**
 * IPv6 global unicast (RFC 4291 §2.4, IANA): the only IPv6 addresses we announce or punch to.
 * Everything else is local to a link or a site (fe80::/10 link-local needs a zone; fc00::/7 ULA is
 * never routed between homes) or not an endpoint at all (::1, multicast, v4-mapped).
 */
export const IPV6_GLOBAL_UNICAST = '2000::/3'
/**
 * Excluded from global unicast: the documentation prefix (RFC 3849). It never appears on a real
 * network, so an address there is a copied example, never a path. The labs use 2001:2::/48
 * (RFC 5180, benchmarking: global-looking, never routed), as their IPv4 side uses 198.18/15.
 */
export const IPV6_DOCUMENTATION = '2001:db8::/32'
/** MTU of the TUN device: 1400 leaves room for TCP/IP + noise + yamux + our frame on a 1500 path. */
export const DEFAULT_MTU = 1400
export const DEFAULT_TUN_NAME = 'meshlan0'
export const DEFAULT_LISTEN_PORT = 7946
/**
 * Listen on both families by default, on one port (issue 10: homes behind carrier-grade NAT often
 * have global IPv6). A host without IPv6 just listens on IPv4: libp2p's transport manager accepts
 * every IPv6 listener failing when every IPv4 one worked.
 */
export const DEFAULT_LISTEN: readonly string[] = [
  `/ip4/0.0.0.0/tcp/${DEFAULT_LISTEN_PORT}`,
  `/ip6/::/tcp/${DEFAULT_LISTEN_PORT}`,
]

/*
 * Protocol ids and topics name no network: identify and multistream-select would otherwise tell a
 * stranger which network a node belongs to before it proved anything.
 */
/** The membership handshake: the only protocol a peer may use before it proved membership. */
export const HELLO_PROTOCOL = '/meshlan/hello/1.0.0'
/** The tunnel protocol: one long-lived stream per peer per direction. */
export const TUNNEL_PROTOCOL = '/meshlan/ip/1.0.0'
/** Policy + records sync for newcomers and anti-entropy. */
export const SYNC_PROTOCOL = '/meshlan/sync/2.0.0'
/** Gossip topic of signed node records. */
export const RECORDS_TOPIC = '/meshlan/records/2'
/** Gossip topic of owner-signed policies. */
export const POLICY_TOPIC = '/meshlan/policy/2'

/**
 * Our record is compared with what we last published this often and gossiped only when it changed
 * (an interface address, a relay reservation lost between maintenance rounds: changes no event
 * announces reach members as fast as when every record was republished at this pace).
 */
export const RECORD_CHECK_MS = 30_000
/**
 * Without an interface watch (overlay.ts: no addon, or no netlink socket) a read of the host's
 * interface list is reused this long: one record check asks for it several times within
 * milliseconds, and a change is still seen within a second of the caller's next look.
 */
export const INTERFACES_UNWATCHED_REUSE_MS = 1_000
/**
 * After the interface watch reports a change, our record is compared this much later (changes
 * come in bursts: a link's up brings its addresses, a DHCP lease several messages; one check
 * after the burst, not one per message).
 */
export const INTERFACES_SETTLE_MS = 500
/**
 * At most one such check per this long: a flapping link (a bad cable, Wi-Fi at its edge) would
 * otherwise make a record every INTERFACES_SETTLE_MS, and each goes to every member. The 30 s
 * record check was the only pace before; 5 s keeps a real move prompt.
 */
export const INTERFACES_MIN_GAP_MS = 5_000
/**
 * An unchanged record is republished this often (issue 14: every 30 s cost ~N KB per interval per
 * node at N members, most of the idle underlay). It keeps the record from expiring
 * (RECORD_EXPIRE_MS) and tells members we hold no connection to that we are still there
 * (RECORD_OFFLINE_MS); connected members know from the keepalive, and news travels on change.
 */
export const RECORD_REFRESH_MS = 10 * 60_000
/**
 * A member's record addresses are written into libp2p's peer store when they change, and unchanged
 * again after this long: the peer store forgets an address an hour after it was last given one
 * (@libp2p/peer-store MAX_ADDRESS_AGE), and writing every member's addresses on every recompute
 * cost an idle node at 50 members more CPU than anything else it did (docs/benchmarks.md, Session 9).
 */
export const PEER_STORE_REFRESH_MS = 10 * 60_000
/** Relay reservations we announce: a peer needs one that works; 8 covers relays going away. */
export const MAX_RECORD_RELAYS_SENT = 8
/** Bootstrap addresses are dialled again this often while none of them is connected. */
export const BOOTSTRAP_RETRY_MS = 15_000
/**
 * Anti-entropy: pull newer records from one random member this often while rounds bring news
 * (a member joined, gossip lost something)…
 */
export const ANTI_ENTROPY_MS = 3_000
/**
 * …and, doubling after each round that brought nothing, at most this often when idle. A round
 * sends a digest of every record held and our own record (~5 KB at 50 members): at 60 s that was
 * ~85 B/s each way per node, a sixth of the idle budget (issue 14). Gossip carries every change at
 * once and a new peer makes the rounds fast again, so an idle network repairs a record gossip
 * dropped within a few rounds of this.
 */
export const ANTI_ENTROPY_MAX_MS = 5 * 60_000
/** Re-choose and refresh relay reservations this often. */
export const RELAY_MAINTAIN_MS = 5_000
/** Direct paths that carry tunnel traffic are pinged this often… */
export const DIRECT_WATCH_MS = 300
/**
 * …and while no tunnel is active, a watchdog the pump cannot wake (no `onTunnelActive`: tests,
 * a node without a device) looks again this often. The daemon's sleeps instead until the pump
 * says a tunnel started (issue 14, idle CPU: one wake-up a second less on every idle node).
 */
export const DIRECT_WATCH_IDLE_MS = 1_000
/**
 * A peer's tunnel counts as active when it sent packets this recently: the watchdog pings active
 * peers' paths, and the pump reports a tunnel that sends after this much quiet (it wakes the
 * watchdog, which sleeps while no tunnel is active). 3 s: ten watchdog rounds after the last packet.
 */
export const TUNNEL_ACTIVE_WINDOW_MS = 3_000
/** …and a ping slower than this counts as a miss (two misses: fall back to the relay). */
export const DIRECT_WATCH_TIMEOUT_MS = 300
/**
 * A relayed path carrying a tunnel is pinged by the same rounds; slower than this is a miss (two
 * misses: the relayed connection is dropped and the tunnel redials, through another relay). Longer
 * than the direct one: a relayed round trip crosses a third event loop and queues behind a relayed
 * bulk flow's 4 MiB window (18–28 ms median measured, ~100 ms at worst; docs/nat.md).
 */
export const RELAYED_WATCH_TIMEOUT_MS = 1_500
/** Re-probe our NAT's behaviour (does it keep the listening port?) this often. */
export const NAT_PROBE_MS = 5 * 60_000
/**
 * A member we hold no open connection to is offline when its record has not been refreshed for
 * this long: two refreshes missed, plus slack for a slow gossip path. With a connection, its
 * keepalive decides (topology/service.ts isOnline: a silent connection within KEEPALIVE_MS +
 * KEEPALIVE_TIMEOUT_MS).
 */
export const RECORD_OFFLINE_MS = 2 * RECORD_REFRESH_MS + 5 * 60_000
/** Records whose timestamp is ahead of our clock by more than this are refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/**
 * A connected peer must complete the hello handshake within this time or it is disconnected; its
 * streams wait (unread) at most this long for the handshake. 5 s covers a relayed round trip on a
 * slow link several times over.
 */
export const HELLO_TIMEOUT_MS = 5_000
/**
 * A peer refused by the handshake (or that never completed it) may not connect again for this
 * long: without it, a stranger would simply reconnect the moment it is hung up on.
 */
export const REFUSED_BACKOFF_MS = 60_000
/** Most peers remembered as refused (oldest forgotten first): bounds what strangers can fill. */
export const MAX_REFUSED_PEERS = 4096
/** Claims verified and cached (successes only; oldest forgotten first). */
export const MAX_CLAIM_CACHE = 2048
/**
 * Members a key may have that the owner has not bound yet (per node's view). The owner binds new
 * members within a second when online; the cap stops a leaked join string from filling the subnet
 * (and every node's tables) while the owner is away, yet lets a fleet of 64 machines boot at once.
 */
export const MAX_UNBOUND_PER_KEY = 64
/**
 * Most nodes a reusable key admits unless `key create --max-members` says otherwise: a key is for a
 * class of devices (laptops, servers), and a holder of its join string can mint identities, so it
 * must not be able to fill the subnet (a /24 has 254 addresses).
 */
export const DEFAULT_KEY_MAX_MEMBERS = 32
/** A sync answer is read no further after this many refused records (each costs a signature check). */
export const MAX_REFUSED_RECORDS_PER_SYNC = 32
/** Records not refreshed for this long are forgotten (members republish every RECORD_REFRESH_MS). */
export const RECORD_EXPIRE_MS = 60 * 60_000
/**
 * A record made longer ago than this is stale on arrival (no offence: an honest member hands on by
 * sync the records it holds, some up to an hour old): every node would have forgotten it, and it
 * bounds how long a departed member's record can travel from node to node.
 */
export const MAX_RECORD_AGE_MS = RECORD_EXPIRE_MS + MAX_CLOCK_SKEW_MS
/**
 * The owner batches member bindings that arrive close together into one policy version: every
 * version costs each node a revalidation, so a burst of newcomers (a fleet booting) should cost one.
 * 200 ms is short next to a join and long next to a burst of records.
 */
export const BIND_DEBOUNCE_MS = 200
/** A revoked or expired member is hung up on this long after its tunnel is cut, so the policy
 *  that removed it still reaches it and it can tell its user why. */
export const REVOKE_HANGUP_DELAY_MS = 500
/** A timer re-checks memberships at the next key expiry, but at least this often. */
export const EXPIRY_CHECK_MAX_MS = 60_000

/**
 * Yamux windows: small enough that a loaded tunnel does not queue seconds of data. 256 KiB is also
 * the smallest @libp2p/yamux accepts (its verifyConfig refuses less: the yamux spec's initial
 * window), so what waits beyond it is kept in the pump's flow queues (tunnel/queue.ts).
 */
export const YAMUX_INITIAL_WINDOW = 256 * 1024
export const YAMUX_MAX_WINDOW = 256 * 1024
/**
 * A relayed connection's windows, and a circuit's hop and stop streams', may grow to this
 * (path-windows.ts): a relayed round trip crosses the relay's event loop, and 256 KiB per round
 * trip held relayed tunnels to ~25 % of direct. Measured in the NAT lab, relayed Mbit/s (3 runs):
 * 256 KiB 246–339, 2 MiB 386–484, 4 MiB 449–632. What it costs: a relay holds at most this much
 * per circuit whose destination stalls (RELAY_MAX_CIRCUITS_PER_MEMBER bounds it per member).
 */
export const YAMUX_RELAYED_MAX_WINDOW = 4 * 1024 * 1024
/**
 * Members' RTTs (status, metrics) are refreshed this often: from each connection's yamux keepalive
 * (no bytes of its own, rtt.ts), or by one ping stream where the muxer keeps no RTT.
 */
export const RTT_REFRESH_MS = 10_000
/**
 * Each end of every connection sends a yamux ping this often (keepalive.ts). It keeps NAT and
 * firewall mappings of idle connections open (RFC 5382 asks NATs for ≥ 2 h of idle TCP; cloud NAT
 * gateways drop after ~350 s: with both ends pinging, the link is never silent for more than this),
 * gives both ends an RTT and, to each end, whether the peer still answers (online). It was libp2p's
 * 30 s: at 50 peers ~350 B/s of a node's underlay, a third of the issue-14 budget.
 */
export const KEEPALIVE_MS = 120_000
/** A keepalive ping unanswered for this long: the peer or the path is gone (offline, no RTT). */
export const KEEPALIVE_TIMEOUT_MS = 10_000
/** One overlay ping (`meshlan ping`, RTT keepalive) waits this long: a relayed path under load. */
export const PING_TIMEOUT_MS = 5_000
/** Between the pings of one `meshlan ping`: short, yet not a burst. */
export const PING_INTERVAL_MS = 200

/** Resource caps so a hostile peer can't exhaust a node. */
export const MAX_CONNECTIONS = 256
export const MAX_INCOMING_PENDING = 32
export const INBOUND_CONNECTION_RATE = 10

/** Pump: per-peer queue bound while a stream is being opened or is draining. */
export const PEER_QUEUE_BYTES = 128 * 1024
/**
 * Pump: the same bound for a device with offloads, whose packets are TCP super-packets of up to
 * 64 KiB: 128 KiB would hold two, and dropping one throws away ~46 segments at once.
 */
export const PEER_QUEUE_BYTES_OFFLOAD = 1024 * 1024
/**
 * Pump: a run of contiguous frames is sent with one `send()` up to this size. Noise seals at most
 * 64 KiB per message anyway, so longer runs save little, and the part of a run beyond the yamux
 * window waits in the stream's own buffer, out of the AQM's sight: this bounds that part.
 */
export const SEND_RUN_BYTES = 64 * 1024
/**
 * Pump: packets a peer's queue holds at most (its entry arrays are this long): 128 KiB of 1400-byte
 * packets is ~94, of 52-byte TCP ACKs ~2500; past 1024 the byte bound is not what limits anyway.
 */
export const PEER_QUEUE_PACKETS = 1024
/**
 * Pump: flow queues per peer (a power of two). A tunnel to one peer carries a handful of
 * concurrent flows; 16 keeps a bulk transfer and an interactive flow apart unless their hashes
 * collide (1 in 16), and costs a few hundred bytes per peer.
 */
export const FQ_FLOWS = 16
/**
 * Pump: bytes a backlogged flow may send per round (deficit round robin): one 64 KiB TCP
 * super-packet, so with offloads each bulk flow sends one packet per turn, and a flow whose backlog
 * is under one quantum is never dropped by CoDel (no standing queue yet).
 */
export const FQ_QUANTUM_BYTES = 64 * 1024
/**
 * CoDel (RFC 8289): a flow whose packets waited longer than TARGET for a whole INTERVAL starts
 * losing packets at its head. The RFC's values: 5 ms is 5–10 % of a 100 ms internet RTT, the worst
 * path a member relay or a WAN peer puts under a tunnel; on a LAN they still cap the standing
 * queue at ~5 ms, below the ~10 ms the 1 MiB FIFO held at 1 Gbit/s.
 */
export const CODEL_TARGET_MS = 5
export const CODEL_INTERVAL_MS = 100
/**
 * CoDel leaves a flow alone while it holds less than this. With offloads a packet is a 64 KiB TCP
 * super-packet, which alone takes 13–26 ms through a 20–40 Mbit/s relayed path: with a one-packet
 * floor CoDel dropped on such paths whenever two were queued, and relayed iperf3 fell from
 * 33–39 to 11–20 Mbit/s (nat-bench, 2026-11-30). Four super-packets: ~2 ms at 1 Gbit/s, so on a LAN
 * CoDel still acts. A ping is not behind this backlog either way: it has its own flow queue.
 */
export const CODEL_MIN_BACKLOG_BYTES = 256 * 1024
/** At most one warning per this many ms about refused type-3 frames (the rest are counted). */
export const BAD_VNET_LOG_MS = 1000

/*
 * Timers that were written inline where they are used; the values are unchanged, the reasons are
 * what the code around them relied on.
 */
/** Opening a tunnel stream on an existing connection (a new path, or the move to a direct one). */
export const TUNNEL_OPEN_TIMEOUT_MS = 5_000
/**
 * Pump: a tunnel stream that failed to open is tried again no sooner than this, so a peer that
 * cannot be reached costs one attempt a second, not one per packet.
 */
export const TUNNEL_RETRY_AFTER_FAILURE_MS = 1_000
/** Pump: after the peer refused our tunnel stream (with a reason), wait longer before asking again. */
export const TUNNEL_RETRY_AFTER_REFUSAL_MS = 2_000
/** Idle conntrack flows age out at sweeps this often: cheap, and well under the shortest flow timeout (ICMP, 30 s). */
export const CONNTRACK_SWEEP_MS = 10_000
/** Dialling one bootstrap address: the dial is retried every BOOTSTRAP_RETRY_MS anyway. */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000
/** Expired records are looked for this often: they live RECORD_EXPIRE_MS, so a minute late is nothing. */
export const RECORD_EXPIRE_SWEEP_MS = 60_000
/** A circuit relay reservation must complete within this (the relay is a member we already reach). */
export const RELAY_RESERVATION_TIMEOUT_MS = 5_000
/** Our member relay: one hop (the CONNECT to the destination) must complete within this. */
export const RELAY_HOP_TIMEOUT_MS = 10_000
/**
 * Gossipsub heartbeat: 4 s (its default 1 s; it was 700 ms, then 2 s). Every heartbeat wakes every
 * idle node and scores each of its peers: at 50 peers a heartbeat is the largest single part of an
 * idle node's CPU (issue 14; docs/benchmarks.md, Session 15). What it paces: mesh upkeep (a lost
 * mesh peer is replaced at the next heartbeat), IHAVE gossip, and our ticker's upkeep (ticker.ts:
 * no periodic task of ours needs a finer grain than 4 s). What it does not: records and policies go
 * out by flood publishing and are forwarded on arrival, and newcomers get them by sync, so a
 * revocation reaches members as fast with any heartbeat.
 */
export const GOSSIP_HEARTBEAT_MS = 4_000
/**
 * The peer score decays once per heartbeat (our gossipsub patch runs the decay there, so its
 * decayInterval is the heartbeat): a behaviour penalty keeps gossipsub's default decay per second,
 * 0.2, raised to the heartbeat's length in seconds.
 */
export const GOSSIP_BEHAVIOUR_PENALTY_DECAY = 0.2 ** (GOSSIP_HEARTBEAT_MS / 1_000)
/**
 * IHAVE gossip covers the messages of the last heartbeat only (gossipsub's default: three). With
 * GOSSIP_D_LAZY = 1 each message was announced three times by every node that had it, three
 * wake-ups of a peer that, in a members-only mesh with flood publishing, almost always has it; a
 * message the mesh lost is still announced once, and anti-entropy (sync) repairs records anyway.
 */
export const GOSSIP_HISTORY_GOSSIP = 1
/**
 * IDONTWANT (gossipsub 1.2) only for messages of this size or more (its default 512 bytes). A node
 * sends one to each mesh peer the moment a message arrives, to stop a duplicate: for a record
 * (~1 KB) that is a message and a wake-up at every mesh peer to save a copy that, on a LAN, is
 * usually already on its way. A policy of a few dozen members is larger, and keeps it.
 */
export const GOSSIP_IDONTWANT_MIN_BYTES = 4_096
/**
 * Periodic upkeep rides gossipsub's heartbeat (ticker.ts); if no heartbeat has run a due task
 * this many heartbeats after it was due, the ticker's own timer runs it: a stuck or stopped
 * gossipsub delays upkeep by seconds, never stops it.
 */
export const TICKER_FALLBACK_HEARTBEATS = 2
/**
 * Gossipsub's IP colocation penalty, off (its default -5 per surplus peer, squared, above 10 peers
 * on one IP). It guards open networks against one host posing as many peers; here every gossip
 * peer is an admitted member, and members behind one household NAT, or relayed by one member relay
 * (whose address a relayed connection carries), are the normal case. With the default, 15 such
 * members scored -125, below the graylist threshold, and their gossip — a revocation among it —
 * was ignored until anti-entropy repaired it (mesh/test/gossip-score.test.ts).
 */
export const GOSSIP_IP_COLOCATION_WEIGHT = 0
/*
 * Gossipsub's mesh, sized for a members-only network whose records and policies also travel by
 * sync and flood publishing (issue 14). Each node forwards a message to its D mesh peers, so every
 * node receives each message about D + 1 times (the flood copy from the publisher included): the
 * defaults (6 / 4 / 12) made a record cost ~7 copies per node. D 3 still keeps the mesh connected
 * when a peer leaves (Dlo 2 until the next heartbeat grafts again) and reaches every member in a
 * few hops; Dout 1 keeps one outbound peer in each mesh (gossipsub asks Dout < Dlo, ≤ D/2).
 */
export const GOSSIP_D = 3
export const GOSSIP_D_LOW = 2
export const GOSSIP_D_HIGH = 4
export const GOSSIP_D_OUT = 1
/** Pruning an overfull mesh keeps this many peers by score, the rest of D at random. */
export const GOSSIP_D_SCORE = 2
/**
 * Gossip (IHAVE) is sent to this many peers outside the mesh per heartbeat, about every message of
 * the last three heartbeats, and no more than that (gossipFactor 0): it repairs what the mesh lost,
 * which anti-entropy (sync) also does for records and the owner's sync push for policies. Its
 * default (6, or a quarter of the peers) cost more bytes per record than the record.
 */
export const GOSSIP_D_LAZY = 1
/** RateLimitedLog: at most one line per this many ms unless the caller says otherwise. */
export const LOG_RATE_LIMIT_MS = 1_000
/**
 * A policy this node signed is pushed by sync to at most this many members gossip does not reach
 * (dialling them if needed): enough for a delegated admin to reach a home mesh after its hub, the
 * owner, is gone; anti-entropy brings it to the rest.
 */
export const MAX_POLICY_PUSH_PEERS = 32
/**
 * A delegated admin's version may be at most this far above the one a node holds: room for many
 * admin changes a node missed while offline, while an admin can never leap to a version the owner's
 * signer cannot go above (2^53 is out of reach at this step).
 */
export const MAX_ADMIN_VERSION_STEP = 65_536
/** A delegated admin's version may be issued at most this far ahead of our clock (clocks differ). */
export const MAX_ADMIN_CLOCK_AHEAD_MS = 10 * 60_000

/**
 * Parsed peer ids kept by `peerIdOf()` (peer-ids.ts). Every member is one entry and a network is
 * members the owner admitted, so this only bounds a pathological case (ids from hostile records
 * that fail later checks): past it the cache starts over rather than grows.
 */
export const PEER_ID_CACHE_MAX = 4096
