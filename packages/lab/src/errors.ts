/** Not root: network namespaces, veths and iptables need CAP_SYS_ADMIN/CAP_NET_ADMIN. */
export class LabPermissionError extends Error {
  override name = 'LabPermissionError'
  constructor(detail?: string) {
    super(
      'run as root: network namespaces need CAP_SYS_ADMIN' +
        (detail === undefined ? '' : ` (${detail})`) +
        '; tests should skip when canRunLabs() says no',
    )
  }
}

/** A command the lab ran (ip, iptables, sysctl) failed; `command` and `stderr` say which and why. */
export class LabCommandError extends Error {
  override name = 'LabCommandError'
  readonly command: string
  readonly code: number | null
  readonly stderr: string
  constructor(command: string, code: number | null, stderr: string) {
    super(
      `command failed (exit ${code}): ${command}: ${stderr.trim() || '(no stderr)'}; ` +
        'check the command is installed and the lab is not already torn down',
    )
    this.command = command
    this.code = code
    this.stderr = stderr
  }
}

/** A prefix or name is too long, has characters outside [a-z0-9_-], or is already used in the lab. */
export class LabNameError extends Error {
  override name = 'LabNameError'
}

/** An address or CIDR is malformed, outside its segment, already taken, or the segment is full. */
export class LabAddressError extends Error {
  override name = 'LabAddressError'
}

/** A segment, host or interface name that the lab does not know. */
export class LabNotFoundError extends Error {
  override name = 'LabNotFoundError'
}

/** The lab was torn down; create a new one with createLab(). */
export class LabClosedError extends Error {
  override name = 'LabClosedError'
  constructor(prefix: string) {
    super(`lab ${prefix} is torn down; create a new one with createLab()`)
  }
}

/** A wait (waitFor, waitForOutput) ran out of time. */
export class LabTimeoutError extends Error {
  override name = 'LabTimeoutError'
}
