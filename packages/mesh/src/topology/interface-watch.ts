/**
 * Our record follows the host's interfaces as the kernel reports their changes (overlay.ts
 * onHostInterfacesChange): an address that came or went is checked INTERFACES_SETTLE_MS after the
 * report (changes come in bursts), not at the next RECORD_CHECK_MS. A link that flaps makes one
 * check per INTERFACES_MIN_GAP_MS at most: each changed record goes to every member.
 */
import { INTERFACES_MIN_GAP_MS, INTERFACES_SETTLE_MS } from '../constants.ts'
import { onHostInterfacesChange } from '../overlay.ts'

/** Calls `check` after interface changes, paced as above; returns the stop. */
export function checkOnInterfaceChange(check: () => void): () => void {
  let settle: ReturnType<typeof setTimeout> | null = null
  let lastAt = Number.NEGATIVE_INFINITY
  const off = onHostInterfacesChange(() => {
    if (settle != null) return
    const wait = Math.max(INTERFACES_SETTLE_MS, lastAt + INTERFACES_MIN_GAP_MS - performance.now())
    settle = setTimeout(() => {
      settle = null
      lastAt = performance.now()
      check()
    }, wait)
  })
  return () => {
    off()
    if (settle != null) clearTimeout(settle)
  }
}
