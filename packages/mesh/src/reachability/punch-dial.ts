/**
 * One hole-punch dial that survives routers that reset: a SYN from our listening port to the
 * peer's candidate, tried again from the same port every time it is refused (a RST), paced by the
 * relay RTT and jittered, until it connects, the punch window ends, or the exchange's attempt
 * budget is spent.
 *
 * Why it works (Linux conntrack, what home routers run): our SYN opens our NAT's mapping
 * (SYN_SENT); if the far NAT has no mapping yet it answers with a RST, which closes ours (CLOSE)
 * and refuses our connect. A new SYN from the same port opens it again. The peer does the same
 * from its side at the same time, so sooner or later its SYN reaches our NAT while our mapping is
 * open: to conntrack that is a simultaneous open, it passes, and so does the answer. Routers that
 * drop instead never refuse: the first dial simply waits (the kernel retransmits the SYN).
 */
import type { Socket } from 'node:net'
import { DialRefusedError, DialTimeoutError } from '@meshlan/tun'
import {
  PUNCH_REDIAL_MAX_MS,
  PUNCH_REDIAL_MIN_MS,
  PUNCH_REDIAL_RTT_FRACTION,
  PUNCH_SILENT_REDIAL_MAX_MS,
  PUNCH_SILENT_REDIAL_MIN_MS,
  PUNCH_SILENT_REDIAL_RTTS,
} from './constants.ts'
import { PunchRefusedError } from './errors.ts'
import type { PortDialer } from './holepunch.ts'

/** The budget of tries one exchange shares between its candidates (MAX_PUNCH_ATTEMPTS). */
export class AttemptBudget {
  private left: number
  used = 0
  constructor(max: number) {
    this.left = max
  }

  /** Takes one try; false when none is left. */
  take(): boolean {
    if (this.left <= 0) return false
    this.left--
    this.used++
    return true
  }
}

/** The mean wait between refused tries for a relay RTT (see PUNCH_REDIAL_RTT_FRACTION). */
export function retryPaceMs(rttMs: number | null): number {
  const base = rttMs == null || !Number.isFinite(rttMs) ? 0 : rttMs * PUNCH_REDIAL_RTT_FRACTION
  return Math.min(PUNCH_REDIAL_MAX_MS, Math.max(PUNCH_REDIAL_MIN_MS, base))
}

/** How long a silent try waits before a fresh SYN, for a relay RTT (PUNCH_SILENT_REDIAL_*). */
export function silentRedialMs(rttMs: number | null): number {
  const base = rttMs == null || !Number.isFinite(rttMs) ? 0 : rttMs * PUNCH_SILENT_REDIAL_RTTS
  return Math.round(Math.min(PUNCH_SILENT_REDIAL_MAX_MS, Math.max(PUNCH_SILENT_REDIAL_MIN_MS, base)))
}

/** One wait: the pace ×0.5–1.5, so two equal paces don't lock into a phase that never overlaps. */
export function jittered(paceMs: number, random: () => number = Math.random): number {
  return paceMs * (0.5 + random())
}

export interface PunchDialInit {
  dial: PortDialer
  localPort: number
  remoteAddress: string
  remotePort: number
  /** When the punch window ends (performance.now() time base). */
  deadline: number
  /** Mean wait between refused tries (retryPaceMs). */
  paceMs: number
  budget: AttemptBudget
  /**
   * Also re-send a try the far side never answered, from a fresh socket, after this long (the
   * kernel would retransmit the SYN only after 1 s, then 3 s). @default none: a silent try waits
   * out the window (see PUNCH_SILENT_REDIAL_* for why and where)
   */
  silentRedialMs?: number
  signal?: AbortSignal
  /** Called before every try (counters). */
  onAttempt?(): void
  /** @default Math.random */
  random?(): number
}

export interface PunchDialResult {
  socket: Socket
  /** Tries this dial made, the successful one included. */
  attempts: number
}

/**
 * Dials until connected; refusals are retried within the window and budget. Rejects with
 * PunchRefusedError when refusals used them up, or with the dialer's other errors at once
 * (a timeout, an unreachable network, the address pair taken).
 */
export async function dialThroughRefusals(init: PunchDialInit): Promise<PunchDialResult> {
  const remote = `${init.remoteAddress}:${init.remotePort}`
  const started = performance.now()
  let attempts = 0
  for (;;) {
    init.signal?.throwIfAborted()
    const left = Math.floor(init.deadline - performance.now())
    if (left < 1 || !init.budget.take()) {
      throw new PunchRefusedError(remote, attempts, performance.now() - started)
    }
    attempts++
    init.onAttempt?.()
    const silent = init.silentRedialMs != null && init.silentRedialMs < left
    try {
      const socket = await init.dial({
        localPort: init.localPort,
        remoteAddress: init.remoteAddress,
        remotePort: init.remotePort,
        timeoutMs: silent ? (init.silentRedialMs ?? left) : left,
        signal: init.signal,
      })
      return { socket, attempts }
    } catch (err) {
      // a silent try already waited its time: send the next SYN at once
      if (silent && err instanceof DialTimeoutError) continue
      if (!(err instanceof DialRefusedError)) throw err
    }
    const wait = Math.min(jittered(init.paceMs, init.random), init.deadline - performance.now())
    if (wait > 0) await sleep(wait, init.signal)
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Whether the far end writes within `ms` (bytes stay buffered for whoever reads next). After a
 * punch, the initiator by peer id speaks first; silence means the peer's listener took the
 * connection and waits as a responder (see PUNCH_FIRST_BYTES_MS).
 */
export function peerSpeaksWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.readableLength > 0) return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (spoke: boolean) => {
      clearTimeout(timer)
      socket.off('readable', onReadable)
      socket.off('close', onClose)
      resolve(spoke)
    }
    const onReadable = () => done(socket.readableLength > 0)
    const onClose = () => done(false)
    const timer = setTimeout(() => done(false), ms)
    socket.on('readable', onReadable)
    socket.once('close', onClose)
  })
}

/**
 * Closes a punched socket we will not use with a reset, not a FIN: a FIN leaves the address pair
 * in TIME_WAIT for 60 s at the end that closed first (both, when both give up at once), and the
 * next punch dials from the same port to the same peer port, so it failed with EADDRNOTAVAIL until
 * then. A reset leaves no TIME_WAIT at either end.
 */
export function discardPunched(socket: Socket): void {
  if (socket.destroyed) return
  if (socket.writableEnded || socket.connecting) socket.destroy()
  else socket.resetAndDestroy()
}
