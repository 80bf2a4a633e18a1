/** Errors of the ACL module. Bad ACL text is never an error (parsers return issues); these are misuse. */

/** `createConntrack()` got an option out of range; the message names it and the allowed range. */
export class InvalidConntrackOptionError extends RangeError {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidConntrackOptionError'
  }
}
