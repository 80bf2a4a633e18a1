/**
 * Our record follows the host's interfaces as the kernel reports their changes (overlay.ts
 * onHostInterfacesChange): an address that came or went is checked INTERFACES_SETTLE_MS after the
 * report (changes come in bursts), not at the next RECORD_CHECK_MS. A link that flaps makes one
 * check per INTERFACES_MIN_GAP_MS at most: each changed record goes to every member.
 */
import { Coalescer } from '../coalesce.ts'
import { INTERFACES_MIN_GAP_MS, INTERFACES_SETTLE_MS } from '../constants.ts'
import { onHostInterfacesChange } from '../overlay.ts'

/** Runs `check` after interface changes, paced as above (never two at once); returns the stop. */
export function checkOnInterfaceChange(check: () => Promise<void>): () => void {
  const checks = new Coalescer(check, INTERFACES_SETTLE_MS, INTERFACES_MIN_GAP_MS)
  const off = onHostInterfacesChange(() => checks.schedule())
  return () => {
    off()
    checks.stop()
  }
}
