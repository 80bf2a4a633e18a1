/**
 * Which of several punched sockets to keep. Both sides dial all their candidates at once, so with
 * IPv4 and IPv6 both open, each side may connect both; they must keep the same one without
 * talking, or each upgrades a socket the other just closed. The rule: the preferred kind (IPv6: no
 * NAT mapping to expire) whenever it connected; another win waits up to `graceMs` for it, since
 * the far end of a socket we hold connects within about one RTT of ours.
 */

/**
 * Resolves with the first preferred result; or with the first other result once every preferred
 * attempt failed or `graceMs` passed after it; rejects with an AggregateError when all failed.
 */
export function pickPreferred<T>(
  attempts: ReadonlyArray<Promise<T>>,
  preferred: ReadonlyArray<boolean>,
  graceMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const errors: unknown[] = []
    let pendingPreferred = preferred.filter(Boolean).length
    let settled = 0
    let fallback: { value: T } | null = null
    let timer: NodeJS.Timeout | null = null
    let done = false
    const finish = (value: T) => {
      if (done) return
      done = true
      if (timer != null) clearTimeout(timer)
      resolve(value)
    }
    attempts.forEach((p, i) => {
      p.then(
        (value) => {
          settled++
          if (preferred[i]) return finish(value)
          if (fallback != null) return
          fallback = { value }
          if (pendingPreferred === 0) return finish(value)
          const f = fallback
          timer = setTimeout(() => finish(f.value), graceMs)
        },
        (err: unknown) => {
          settled++
          errors[i] = err
          if (preferred[i]) pendingPreferred--
          if (fallback != null && pendingPreferred === 0) return finish(fallback.value)
          if (settled === attempts.length && fallback == null && !done) {
            done = true
            reject(
              new AggregateError(
                errors.filter((e) => e !== undefined),
                'every punch attempt failed',
              ),
            )
          }
        },
      )
    })
    if (attempts.length === 0) reject(new AggregateError([], 'no punch attempts'))
  })
}
