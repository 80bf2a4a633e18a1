/** Named errors of @meshlan/tun: one class per condition; each message says what to do next. */

/** Base class: every error here has a stable `code`. */
export class TunError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TunError'
    this.code = code
  }
}

/** Opening or configuring the TUN was refused (EPERM/EACCES). */
export class TunPermissionError extends TunError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('ERR_TUN_PERMISSION', `${detail}: run as root or grant CAP_NET_ADMIN`, options)
    this.name = 'TunPermissionError'
  }
}

/** /dev/net/tun is missing (tun module not loaded, or no device node in this container). */
export class TunUnavailableError extends TunError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'ERR_TUN_UNAVAILABLE',
      `${detail}: load the tun module: modprobe tun (in a container, pass --device /dev/net/tun)`,
      options,
    )
    this.name = 'TunUnavailableError'
  }
}

/** The interface name is taken by another TUN that is open, or by a device of another kind. */
export class TunNameInUseError extends TunError {
  readonly ifname: string
  constructor(ifname: string, options?: { cause?: unknown }) {
    super(
      'ERR_TUN_NAME_IN_USE',
      `interface name ${ifname} is in use: choose another name, or stop the process that holds it ` +
        `(ip link show ${ifname})`,
      options,
    )
    this.name = 'TunNameInUseError'
    this.ifname = ifname
  }
}

/** An option is out of range, or a combination the kernel would accept but that cannot work. */
export class TunOptionsError extends TunError {
  readonly option: string
  constructor(option: string, message: string) {
    super('ERR_TUN_OPTIONS', `${option}: ${message}`)
    this.name = 'TunOptionsError'
    this.option = option
  }
}

/** The `ip` command failed while configuring the interface. */
export class TunConfigError extends TunError {
  readonly command: string
  constructor(command: string, detail: string, options?: { cause?: unknown }) {
    super(
      'ERR_TUN_CONFIG',
      `${command} failed: ${detail}: check the arguments and that iproute2 is installed`,
      options,
    )
    this.name = 'TunConfigError'
    this.command = command
  }
}

/** The native addon is not built. */
export class TunAddonMissingError extends TunError {
  constructor(options?: { cause?: unknown }) {
    super(
      'ERR_TUN_ADDON_MISSING',
      'the @meshlan/tun native addon is not built: run `pnpm run build` (needs gcc, make and python3)',
      options,
    )
    this.name = 'TunAddonMissingError'
  }
}

/** Failure of the TUN fd after it was opened (read error, interface deleted under us). */
export class TunIoError extends TunError {
  readonly syscall: string
  constructor(code: string, syscall: string, message: string, options?: { cause?: unknown }) {
    super(code, `${message}: the TUN is no longer usable; close it and open a new one`, options)
    this.name = 'TunIoError'
    this.syscall = syscall
  }
}
