/**
 * Named errors of the reachability service, one class per condition; messages say what to do next.
 */
import { MeshError } from '../errors.ts'

/** libp2p no longer behaves the way the adapter relies on (after an upgrade, usually). */
export class Libp2pAssumptionError extends MeshError {
  readonly assumption: string
  constructor(assumption: string, detail: string) {
    super(
      'ERR_LIBP2P_ASSUMPTION',
      `libp2p broke an assumption of meshlan's adapter (${assumption}): ${detail}; run ` +
        'packages/mesh/test/libp2p-adapter.test.ts and fix reachability/libp2p-adapter.ts before upgrading libp2p',
    )
    this.name = 'Libp2pAssumptionError'
    this.assumption = assumption
  }
}

/** The adapter service is missing from the libp2p node (createTransport not used?). */
export class AdapterMissingError extends MeshError {
  constructor(service: string) {
    super(
      'ERR_ADAPTER_MISSING',
      `libp2p has no '${service}' service: build the node with createTransport() (it registers the adapter)`,
    )
    this.name = 'AdapterMissingError'
  }
}

/** Every dialling group to a member failed. */
export class NoPathError extends MeshError {
  readonly peerId: string
  constructor(peerId: string, detail: string) {
    super(
      'ERR_NO_PATH',
      `cannot reach ${peerId}: ${detail}; check it is online (meshlan status) and that a member relay runs`,
    )
    this.name = 'NoPathError'
    this.peerId = peerId
  }
}

/** Every try of a hole-punch dial was refused (a RST) for the whole punch window or attempt cap. */
export class PunchRefusedError extends MeshError {
  readonly remote: string
  readonly attempts: number
  constructor(remote: string, attempts: number, ms: number) {
    super(
      'ERR_PUNCH_REFUSED',
      `dial -> ${remote} refused or unanswered ${attempts} times in ${Math.round(ms)} ms: the peer's ` +
        'NAT or firewall never let our SYN through (it did not dial us back in time, or it maps another ' +
        'port); the relay stays the path',
    )
    this.name = 'PunchRefusedError'
    this.remote = remote
    this.attempts = attempts
  }
}

/** The router found for port mapping refused or failed to map our port. */
export class PortMapRefusedError extends MeshError {
  readonly protocol: string
  readonly gateway: string
  constructor(protocol: string, gateway: string, port: number, detail: string) {
    super(
      'ERR_PORT_MAP_REFUSED',
      `${protocol} gateway ${gateway} did not map TCP port ${port}: ${detail}; check that the router ` +
        'allows port mapping for this host (or set [nat] port_mapping = false)',
    )
    this.name = 'PortMapRefusedError'
    this.protocol = protocol
    this.gateway = gateway
  }
}

/** A member used up its relay quota (`[nat] relay_member_quota_mb`): its circuits are cut. */
export class RelayQuotaExceededError extends MeshError {
  readonly member: string
  constructor(member: string, usedBytes: number, quotaBytes: number, resetsInMs: number) {
    super(
      'ERR_RELAY_QUOTA',
      `member ${member} relayed ${(usedBytes / 1e6).toFixed(1)} MB, over its quota of ${(quotaBytes / 1e6).toFixed(1)} MB ` +
        `per period; relaying for it resumes in ${Math.ceil(resetsInMs / 60_000)} min. Its direct path is unaffected; ` +
        'raise [nat] relay_member_quota_mb on this relay (0 = no quota) if it should relay more',
    )
    this.name = 'RelayQuotaExceededError'
    this.member = member
  }
}

/** A member has RELAY_MAX_CIRCUITS_PER_MEMBER circuits open through this relay: no more. */
export class RelayCircuitLimitError extends MeshError {
  readonly member: string
  constructor(member: string, open: number) {
    super(
      'ERR_RELAY_CIRCUITS',
      `member ${member} has ${open} circuits open through this relay, the most one member may; ` +
        'a circuit frees when its connection closes or goes direct — close idle connections, or use another relay',
    )
    this.name = 'RelayCircuitLimitError'
    this.member = member
  }
}
