/**
 * Named errors of the daemon and the state directory, one class per condition. Messages say what
 * to do next. Mesh-level errors (NotOwnerError, UnknownKeyError, ...) come from @meshlan/mesh.
 */
// the errors module alone: the CLI's start-up must not load libp2p to name an error
import { MeshError } from '@meshlan/mesh/errors'

export class DaemonError extends MeshError {
  constructor(code: string, message: string) {
    super(code, message)
    this.name = 'DaemonError'
  }
}

export class DaemonNotRunningError extends DaemonError {
  constructor(stateDir: string) {
    super(
      'ERR_DAEMON_NOT_RUNNING',
      `the meshlan daemon is not running for state ${stateDir}: run \`meshlan up\``,
    )
    this.name = 'DaemonNotRunningError'
  }
}

export class DaemonRunningError extends DaemonError {
  constructor(stateDir: string) {
    super(
      'ERR_DAEMON_RUNNING',
      `a meshlan daemon is already running for state ${stateDir}: run \`meshlan down\` first`,
    )
    this.name = 'DaemonRunningError'
  }
}

export class DaemonStartError extends DaemonError {
  constructor(why: string, logPath: string) {
    super('ERR_DAEMON_START', `the meshlan daemon did not start (${why}): see ${logPath}`)
    this.name = 'DaemonStartError'
  }
}

export class DaemonStopError extends DaemonError {
  constructor(pid: number) {
    super('ERR_DAEMON_STOP', `the meshlan daemon (pid ${pid}) did not exit: check it, or kill ${pid}`)
    this.name = 'DaemonStopError'
  }
}

/** A stop (signal, fatal error) arrived while the daemon was still starting: it stops instead. */
export class DaemonStoppingError extends DaemonError {
  constructor() {
    super('ERR_DAEMON_STOPPING', 'the meshlan daemon was told to stop while starting: start it again')
    this.name = 'DaemonStoppingError'
  }
}

export class ConfigError extends DaemonError {
  readonly field: string
  constructor(path: string, field: string, problem: string) {
    super('ERR_CONFIG', `${path}: ${field === '' ? '' : `${field}: `}${problem}`)
    this.name = 'ConfigError'
    this.field = field
  }
}

export class StateError extends DaemonError {
  constructor(path: string, problem: string) {
    super('ERR_STATE', `${path}: ${problem}`)
    this.name = 'StateError'
  }
}

export class AlreadyInNetworkError extends DaemonError {
  constructor(networkId: string) {
    super(
      'ERR_ALREADY_IN_NETWORK',
      `this node is already in network ${networkId}: use another --state directory, or remove network.json`,
    )
    this.name = 'AlreadyInNetworkError'
  }
}

export class InvalidJoinStringError extends DaemonError {
  constructor(why: string) {
    super('ERR_INVALID_JOIN_STRING', `${why}: ask the network owner for a new one (\`meshlan key create\`)`)
    this.name = 'InvalidJoinStringError'
  }
}

export class InvalidArgumentError extends DaemonError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message)
    this.name = 'InvalidArgumentError'
  }
}

export class NodeNotRunningError extends DaemonError {
  constructor(why: string) {
    super('ERR_NODE_NOT_RUNNING', `the mesh node is not running (${why})`)
    this.name = 'NodeNotRunningError'
  }
}

/** An error reported by the daemon over the control socket. */
export class RemoteError extends DaemonError {
  constructor(code: string, message: string) {
    super(code, message)
    this.name = 'RemoteError'
  }
}

export class ExitNodeUnusableError extends DaemonError {
  constructor(why: string) {
    super('ERR_EXIT_NODE_UNUSABLE', `${why} (nothing was changed)`)
    this.name = 'ExitNodeUnusableError'
  }
}
