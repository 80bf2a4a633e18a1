/**
 * Passphrase guesses under the lockout: `unlock`, and `network protect` given the old passphrase.
 * Both try the owner key's passphrase, so both count toward the same per-source lockout (a
 * passphrase change must not be a way around it).
 *
 * Order: a source still locked out is refused before the passphrase is even tried (the right
 * passphrase too: otherwise the lockout would only slow guessing down, never stop it); each wrong
 * passphrase counts; a right one forgets that source's count only. Each refusal writes the stable
 * `meshlan auth failure` line (and `meshlan auth lockout` when it starts one) and an audit line.
 */
import type { Logger } from '@meshlan/mesh'
import type { AuditSink } from './audit.ts'
import type { CallContext } from './controller.ts'
import { LockedOutError, type Lockout, logAuthFailure } from './lockout.ts'
import { WrongPassphraseError } from './owner-lock.ts'

export interface GuardInit {
  lockout: Lockout
  log: Logger
  audit: AuditSink
}

/** What counts as a guess: a wrong passphrase (the default), or the caller's own test. */
export interface GuessKind {
  isWrong(err: unknown): boolean
  /** The audit line's reason. */
  reason: string
}

const PASSPHRASE_GUESS: GuessKind = {
  isWrong: (err) => err instanceof WrongPassphraseError,
  reason: 'wrong passphrase',
}

export async function guardPassphrase<T>(
  g: GuardInit,
  event: string,
  ctx: CallContext,
  fn: () => Promise<T>,
  kind: GuessKind = PASSPHRASE_GUESS,
): Promise<T> {
  const wait = await g.lockout.check(ctx.source)
  if (wait > 0) {
    logAuthFailure(g.log, event, ctx.source, { lockedOut: false, retryAfterMs: wait })
    await g.audit.append({
      ...ctx,
      event,
      ok: false,
      detail: { reason: 'locked out', retryAfterS: Math.ceil(wait / 1000) },
    })
    throw new LockedOutError(event, wait)
  }
  try {
    const r = await fn()
    await g.lockout.succeed(ctx.source)
    return r
  } catch (err) {
    if (!kind.isWrong(err)) throw err
    const f = await g.lockout.fail(ctx.source)
    logAuthFailure(g.log, event, ctx.source, f)
    await g.audit.append({ ...ctx, event, ok: false, detail: { reason: kind.reason } })
    if (f.lockedOut) {
      await g.audit.append({
        ...ctx,
        event: 'lockout',
        ok: false,
        detail: { on: event, retryAfterS: Math.ceil(f.retryAfterMs / 1000) },
      })
      throw new LockedOutError(event, f.retryAfterMs)
    }
    throw err
  }
}
