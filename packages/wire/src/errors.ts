/**
 * Exceptions are for programmer errors only (an encoder handed a value that does not fit its
 * format). Bytes from the network never throw: parsers return `{ ok: false, reason }` values.
 */

/** An encoder was given a message that does not match its schema or exceeds its size cap. */
export class InvalidMessageError extends Error {
  static readonly code = 'ERR_INVALID_MESSAGE'
  readonly code = 'ERR_INVALID_MESSAGE'
  readonly format: string

  constructor(format: string, detail: string) {
    super(`cannot encode ${format}: ${detail}; fix the value before encoding it`)
    this.name = 'InvalidMessageError'
    this.format = format
  }
}

/** `writeFrameHeader`/`encodeFrame` was given an unknown frame type or a payload longer than MAX_FRAME_PAYLOAD. */
export class InvalidFrameError extends Error {
  static readonly code = 'ERR_INVALID_FRAME'
  readonly code = 'ERR_INVALID_FRAME'

  constructor(detail: string) {
    super(`cannot write frame: ${detail}; split or drop the payload before framing it`)
    this.name = 'InvalidFrameError'
  }
}
