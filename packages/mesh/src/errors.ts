/**
 * Named errors of the mesh node, one class per condition. Messages say what to do next.
 */

export class MeshError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'MeshError'
    this.code = code
  }
}

export class NotInitializedError extends MeshError {
  constructor(stateDir: string) {
    super('ERR_NOT_INITIALIZED', `no node identity in ${stateDir}: run \`meshlan init\` first`)
    this.name = 'NotInitializedError'
  }
}

export class NoNetworkError extends MeshError {
  constructor() {
    super(
      'ERR_NO_NETWORK',
      'this node is in no network: run `meshlan network create NAME` or `meshlan join JOINSTRING`',
    )
    this.name = 'NoNetworkError'
  }
}

export class NotOwnerError extends MeshError {
  constructor(what: string) {
    super(
      'ERR_NOT_OWNER',
      `only the network owner can ${what}: run this on the node that created the network`,
    )
    this.name = 'NotOwnerError'
  }
}

export class UnknownKeyError extends MeshError {
  constructor(name: string) {
    super('ERR_UNKNOWN_KEY', `no mesh key named "${name}": see \`meshlan key list\``)
    this.name = 'UnknownKeyError'
  }
}

export class DuplicateKeyError extends MeshError {
  constructor(name: string) {
    super(
      'ERR_DUPLICATE_KEY',
      `a mesh key named "${name}" exists already: pick another name or revoke it first`,
    )
    this.name = 'DuplicateKeyError'
  }
}

export class UnknownNodeError extends MeshError {
  constructor(name: string) {
    super('ERR_UNKNOWN_NODE', `no node "${name}" in this network: see \`meshlan status\``)
    this.name = 'UnknownNodeError'
  }
}

export class InvalidAclError extends MeshError {
  readonly issues: string[]
  constructor(issues: string[]) {
    super('ERR_INVALID_ACL', `the ACL is not valid:\n  ${issues.join('\n  ')}`)
    this.name = 'InvalidAclError'
    this.issues = issues
  }
}

export class InvalidSubnetError extends MeshError {
  constructor(subnet: string, why: string) {
    super('ERR_INVALID_SUBNET', `subnet ${subnet} ${why}`)
    this.name = 'InvalidSubnetError'
  }
}

export class JoinError extends MeshError {
  constructor(why: string) {
    super('ERR_JOIN', why)
    this.name = 'JoinError'
  }
}

export class StalePolicyError extends MeshError {
  constructor(version: number, reason: string) {
    super(
      'ERR_STALE_POLICY',
      `policy version ${version} was not applied (${reason}): nothing changed; run the command again`,
    )
    this.name = 'StalePolicyError'
  }
}

export class NoPolicyError extends MeshError {
  constructor() {
    super('ERR_NO_POLICY', 'this node holds no policy yet: run `meshlan network create NAME` first')
    this.name = 'NoPolicyError'
  }
}

export class MemberLimitError extends MeshError {
  constructor(limit: number) {
    super(
      'ERR_MEMBER_LIMIT',
      `the network already has ${limit} bound members: revoke nodes that left (\`meshlan node revoke\`) first`,
    )
    this.name = 'MemberLimitError'
  }
}

/** A Noise transport message did not authenticate: corrupted on the way, or forged. */
export class NoiseDecryptError extends MeshError {
  constructor() {
    super(
      'ERR_NOISE_DECRYPT',
      'a Noise message failed authentication, so the connection is closed: if this repeats, ' +
        'look for a middlebox on the path that rewrites TCP payloads',
    )
    this.name = 'NoiseDecryptError'
  }
}
