/**
 * Gives a daemon's garbage back to the system when it goes quiet (issue 14: an idle node's memory).
 * V8 collects its old generation only when that grows past a limit: a daemon that went quiet after
 * start-up, or after a transfer, keeps the garbage of that time resident — 2–3 MB of an idle
 * daemon's RSS in `mem.sh` (docs/benchmarks.md, "Session 15").
 *
 * Every HEAP_TRIM_SAMPLE_MS, on the node's ticker (no wake-up of its own), the trim looks back over
 * the sample; a sample in which the process used HEAP_TRIM_QUIET_CPU of a core or more, or that
 * ends with a tunnel (or a circuit we relay) carrying traffic, is busy; HEAP_TRIM_CHECK_MS of
 * samples in a row that are not is a quiet period. The first quiet period after start-up, and the
 * first after a busy one, start a trim if the heap grew by HEAP_TRIM_MIN_GROWTH_BYTES since the
 * last: one full collection in that period and one in each of the next HEAP_TRIM_ROUNDS − 1 quiet
 * ones, the last of which also drops the bytecode of code that ran only once (start-up's). A busy
 * period ends a trim early. Never under load (a collection stops the event loop for tens of
 * milliseconds), and never for an idle node's slow growth: the first version also collected
 * whenever an idle heap had grown 2 MiB, which at 50 peers cost 0.05 % of a core, a quarter of the
 * idle budget; V8's own collections handle that.
 * Then glibc's malloc_trim, so that what the collection freed into malloc leaves the process too,
 * and the unmapping of clean file pages (releaseFilePages).
 * Whatever peers send, collections run only in quiet periods, one per period: at most two a minute,
 * and HEAP_TRIM_ROUNDS per busy spell.
 */
import { getHeapStatistics } from 'node:v8'
import type { Logger } from '@meshlan/mesh'
import { dropFilePages, TunAddonMissingError, trimMalloc } from '@meshlan/tun'
import {
  HEAP_TRIM_CHECK_MS,
  HEAP_TRIM_MIN_GROWTH_BYTES,
  HEAP_TRIM_QUIET_CPU,
  HEAP_TRIM_ROUNDS,
  HEAP_TRIM_SAMPLE_MS,
} from './constants.ts'
import { exposedGc } from './v8-gc.ts'

/** What the trim reads and calls; the defaults are the process's (tests pass fakes). */
export interface HeapTrimInit {
  /** Runs `fn` every `periodMs` (the node's ticker); returns the cancel. */
  every: (periodMs: number, fn: () => void) => () => void
  /** A full collection, or null when the process has none (run without DAEMON_NODE_FLAGS). */
  collect: (() => void) | null
  log: Logger
  /**
   * True while the data plane carries traffic (a tunnel sent, or our relay forwarded a circuit,
   * within TUNNEL_ACTIVE_WINDOW_MS): a period whose CPU share was low but that ends with a
   * transfer starting is not quiet.
   * @default () => false
   */
  trafficNow?: () => boolean
  /** @default process.cpuUsage() user + system, in microseconds */
  cpuMicros?: () => number
  /** @default v8.getHeapStatistics().used_heap_size */
  heapUsed?: () => number
  /** @default performance.now() */
  nowMs?: () => number
}

/**
 * V8's full collection as a function, or null. `gc` is a global only with `--expose-gc`, one of
 * DAEMON_NODE_FLAGS (client.ts). The `last-resort` flavour is V8's collection under memory
 * pressure (several rounds, compaction) and gives the freed pages back: a plain `gc()` freed the
 * objects of an idle daemon (17.2 → 15.7 MB in use) and kept every page (RSS unchanged); this one
 * took RSS 83.9 → 79.8 MB. test/heap-trim.test.ts checks both halves of that with these flags.
 * Then malloc's free pages go back too (releaseMalloc).
 */
export function fullCollection(): (() => void) | null {
  const gc = exposedGc()
  if (gc == null) return null
  return () => {
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    releaseMalloc()
    releaseFilePages()
  }
}

/** `call()`, or `none` when the addon is not built (never in a daemon: its TUN needs it). */
function withAddon<T>(call: () => T, none: T): T {
  try {
    return call()
  } catch (err) {
    if (!(err instanceof TunAddonMissingError)) throw err
    return none
  }
}

/**
 * The collection frees buffers' memory into malloc, which keeps free pages in the middle of its
 * heap resident: glibc's malloc_trim hands them back (idle RSS another 2–5 MB in `mem.sh`,
 * docs/benchmarks.md "Session 16").
 */
function releaseMalloc(): void {
  withAddon(trimMalloc, false)
}

/**
 * Unmaps clean file pages (the node binary's code and read-only data) that nothing touched since
 * the last time: start-up runs through tens of MB of the binary once, and those pages stay mapped
 * and in the RSS until memory runs short (51 of an idle daemon's 89 MB were file pages, most of
 * them start-up's; docs/benchmarks.md "Session 17"). What is still in use is mapped again on its
 * next touch, from the page cache. Once after start-up (process.ts) and after each trim's
 * collection. Returns the bytes unmapped; 0 without the addon.
 */
export function releaseFilePages(): number {
  return withAddon(dropFilePages, 0)
}

export class HeapTrim {
  private readonly init: HeapTrimInit
  private readonly cpuMicros: () => number
  private readonly heapUsed: () => number
  private readonly nowMs: () => number
  private readonly trafficNow: () => boolean
  private cancel: (() => void) | null = null
  private lastCpu = 0
  private lastAt = 0
  /** Heap in use right after our last collection; null before the first. */
  private afterLast: number | null = null
  /** Start-up, or a busy period, since the last quiet one: the next quiet period may collect. */
  private armed = true
  /** Collections left in the trim under way, one per quiet period. */
  private left = 0
  /** Quiet time since the last busy sample or collection. */
  private quietMs = 0

  constructor(init: HeapTrimInit) {
    this.init = init
    this.cpuMicros =
      init.cpuMicros ??
      (() => {
        const u = process.cpuUsage()
        return u.user + u.system
      })
    this.heapUsed = init.heapUsed ?? (() => getHeapStatistics().used_heap_size)
    this.nowMs = init.nowMs ?? (() => performance.now())
    this.trafficNow = init.trafficNow ?? (() => false)
  }

  start(): void {
    if (this.init.collect == null) {
      this.init.log.debug('heap trim off: no gc (the daemon runs without --expose-gc)')
      return
    }
    this.lastCpu = this.cpuMicros()
    this.lastAt = this.nowMs()
    this.cancel = this.init.every(HEAP_TRIM_SAMPLE_MS, () => this.check())
  }

  stop(): void {
    this.cancel?.()
    this.cancel = null
  }

  /** One look back over the sample since the last (the ticker's task). */
  check(): void {
    const collect = this.init.collect
    if (collect == null) return
    const cpu = this.cpuMicros()
    const at = this.nowMs()
    const span = at - this.lastAt
    const share = (cpu - this.lastCpu) / 1000 / Math.max(1, span)
    this.lastCpu = cpu
    this.lastAt = at
    if (share >= HEAP_TRIM_QUIET_CPU) {
      this.armed = true
      this.left = 0
      this.quietMs = 0
      return
    }
    // short samples, and the tunnels' own word, so that a transfer starting now is not taken for
    // quiet: a collection stops the event loop (33–60 ms in a bundled daemon, up to ~290 ms in the
    // NAT lab's source-run relays) and would stall its first packets
    if (this.trafficNow()) {
      this.quietMs = 0
      return
    }
    this.quietMs += span
    if (this.quietMs < HEAP_TRIM_CHECK_MS) return
    this.quietMs = 0
    const before = this.heapUsed()
    if (this.left > 0) {
      this.left--
    } else {
      if (!this.armed) return
      this.armed = false
      if (this.afterLast != null && before - this.afterLast < HEAP_TRIM_MIN_GROWTH_BYTES) return
      this.left = HEAP_TRIM_ROUNDS - 1
    }
    collect()
    this.afterLast = this.heapUsed()
    // the collection's own CPU is not the next period's traffic
    this.lastCpu = this.cpuMicros()
    this.lastAt = this.nowMs()
    this.init.log.debug('heap trimmed', {
      beforeBytes: before,
      afterBytes: this.afterLast,
      ms: Math.round(this.lastAt - at),
      left: this.left,
    })
  }
}
