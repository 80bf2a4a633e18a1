/**
 * Named errors of the admin API. Each carries the HTTP status it answers with and a stable code;
 * the message is what a person reads (never a secret).
 */
export class AdminError extends Error {
  readonly code: string
  readonly status: number
  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'AdminError'
    this.status = status
    this.code = code
  }
}

/** Unknown user, wrong password or wrong code: one answer for all, so none can be told apart. */
export class LoginFailedError extends AdminError {
  constructor() {
    super(401, 'ERR_LOGIN_FAILED', 'wrong username, password or TOTP code')
    this.name = 'LoginFailedError'
  }
}

export class NotLoggedInError extends AdminError {
  constructor() {
    super(401, 'ERR_NOT_LOGGED_IN', 'not logged in (or the session expired): POST /api/login')
    this.name = 'NotLoggedInError'
  }
}

export class CsrfError extends AdminError {
  constructor() {
    super(403, 'ERR_CSRF', 'missing or wrong X-CSRF-Token header: take the token from GET /api/session')
    this.name = 'CsrfError'
  }
}

export class TotpRequiredError extends AdminError {
  constructor() {
    super(401, 'ERR_TOTP_REQUIRED', 'this action needs a fresh TOTP code: send it in the X-TOTP header')
    this.name = 'TotpRequiredError'
  }
}

/** An owner action on the control socket without `--otp` while an admin account has TOTP on. */
export class CliTotpRequiredError extends AdminError {
  constructor(accounts: readonly string[]) {
    super(
      401,
      'ERR_TOTP_REQUIRED',
      `TOTP is on (admin account ${accounts.join(', ')}): add --otp CODE with a current code or a ` +
        'recovery code, or run the command on a terminal to be asked',
    )
    this.name = 'CliTotpRequiredError'
  }
}

export class TotpWrongError extends AdminError {
  constructor() {
    super(401, 'ERR_TOTP_WRONG', 'wrong TOTP or recovery code')
    this.name = 'TotpWrongError'
  }
}

export class LockedOutError extends AdminError {
  readonly retryAfterMs: number
  constructor(retryAfterMs: number) {
    super(
      429,
      'ERR_LOCKED_OUT',
      `too many failures from this address: try again in ${Math.ceil(retryAfterMs / 1000)} s`,
    )
    this.name = 'LockedOutError'
    this.retryAfterMs = retryAfterMs
  }
}

export class AlreadyBootstrappedError extends AdminError {
  constructor() {
    super(409, 'ERR_BOOTSTRAPPED', 'an admin account exists already: log in instead')
    this.name = 'AlreadyBootstrappedError'
  }
}

export class BootstrapTokenError extends AdminError {
  constructor() {
    super(
      401,
      'ERR_BOOTSTRAP_TOKEN',
      'wrong or expired bootstrap token: run `meshlan admin bootstrap` for a new one',
    )
    this.name = 'BootstrapTokenError'
  }
}

export class BadRequestError extends AdminError {
  constructor(message: string) {
    super(400, 'ERR_BAD_REQUEST', message)
    this.name = 'BadRequestError'
  }
}

export class BodyTooLargeError extends AdminError {
  constructor(limit: number) {
    super(413, 'ERR_TOO_LARGE', `request body over ${limit} bytes`)
    this.name = 'BodyTooLargeError'
  }
}

export class NotFoundError extends AdminError {
  constructor(path: string) {
    super(404, 'ERR_NOT_FOUND', `no such endpoint: ${path} (see docs/admin-api.md)`)
    this.name = 'NotFoundError'
  }
}

export class MethodNotAllowedError extends AdminError {
  readonly allow: string
  constructor(allow: string) {
    super(405, 'ERR_METHOD', `method not allowed here: use ${allow}`)
    this.name = 'MethodNotAllowedError'
    this.allow = allow
  }
}

export class BusyError extends AdminError {
  constructor() {
    super(503, 'ERR_BUSY', 'too many logins at once: try again in a moment')
    this.name = 'BusyError'
  }
}

export class UnlockFailedError extends AdminError {
  constructor() {
    super(401, 'ERR_UNLOCK_FAILED', 'wrong passphrase')
    this.name = 'UnlockFailedError'
  }
}

export class NotProtectedError extends AdminError {
  constructor() {
    super(409, 'ERR_NOT_PROTECTED', 'the owner key has no passphrase: nothing to unlock')
    this.name = 'NotProtectedError'
  }
}

/** Account / TOTP operations of the CLI (control socket). */
export class UnknownAdminError extends AdminError {
  constructor(user: string) {
    super(404, 'ERR_UNKNOWN_ADMIN', `no admin account ${JSON.stringify(user)}`)
    this.name = 'UnknownAdminError'
  }
}

export class TotpStateError extends AdminError {
  constructor(message: string) {
    super(409, 'ERR_TOTP_STATE', message)
    this.name = 'TotpStateError'
  }
}

/** The current password given to change it is wrong (counted as a failed login of the address). */
export class PasswordWrongError extends AdminError {
  constructor() {
    super(401, 'ERR_PASSWORD_WRONG', 'the current password is wrong')
  }
}

/** Too many live event streams at once (each holds a connection and a timer). */
export class TooManyStreamsError extends AdminError {
  constructor(max: number) {
    super(503, 'ERR_BUSY', `at most ${max} live views at once: close one and reload`)
  }
}
