/**
 * V8's `gc`, a global only with `--expose-gc` (one of DAEMON_NODE_FLAGS, client.ts), typed with
 * the two forms the daemon asks for: the heap trim's last-resort full collection (heap-trim.ts)
 * and the buffer collection's incremental one (buffer-collect.ts).
 */
export type V8Gc = (
  opts: { type: 'major'; execution: 'sync'; flavor: 'last-resort' } | { type: 'major'; execution: 'async' },
) => void

/** The process's `gc`, or null when it runs without `--expose-gc`. */
export function exposedGc(): V8Gc | null {
  const gc = (globalThis as { gc?: unknown }).gc
  return typeof gc === 'function' ? (gc as V8Gc) : null
}
