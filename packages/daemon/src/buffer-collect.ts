/**
 * Frees the socket buffers a loaded daemon's old generation holds (issue 14: the receiver's loaded
 * peak). Each socket read is a 64 KiB buffer outside V8's heap behind a small wrapper in it; the
 * wrapper of a read still queued (Noise's partial frame, yamux's window) when a scavenge runs is
 * promoted, and its buffer lives until a major collection. V8 starts one when its heap grows, and
 * a receiver's heap does not (the wrappers are small): in the anchors runs its promoted buffers
 * piled up ~1.1 MB/s for 30 s, to ~41 MB, before V8's first major collection under load, and
 * malloc kept the RSS they took (the receiver's peak 108–113 MB against 92–96 for the sender;
 * docs/benchmarks.md, "Session 18").
 *
 * Every BUFFER_COLLECT_SAMPLE_MS, on the node's ticker, the array buffers' bytes are compared with their lowest since the last collection; BUFFER_COLLECT_GROWTH_BYTES
 * more starts an incremental major collection (marking runs in steps and on V8's threads: the call
 * itself took ~0.1 ms, and the event loop is not stopped as by the heap trim's last-resort
 * collection). At most one per sample, whatever peers send; none while the bytes stay put.
 */
import type { Logger } from '@meshlan/mesh'
import { BUFFER_COLLECT_GROWTH_BYTES, BUFFER_COLLECT_SAMPLE_MS } from './constants.ts'
import { exposedGc } from './v8-gc.ts'

export interface BufferCollectInit {
  /** Runs `fn` every `periodMs` (the node's ticker); returns the cancel. */
  every: (periodMs: number, fn: () => void) => () => void
  /** An incremental major collection (bufferCollection()), or null without `--expose-gc`. */
  collect: (() => void) | null
  log: Logger
  /**
   * The bytes of the process's array buffers, negative when unknown (the look is skipped).
   * @default process.memoryUsage().arrayBuffers (~14 µs:
   * it also reads the RSS; V8's `external_memory` would be cheaper but counts freed buffers until
   * the next collection, so a freed pile would look like one still there)
   */
  bufferBytes?: () => number
}

/**
 * V8's incremental major collection as a function, or null without `--expose-gc`.
 * test/buffer-collect.test.ts checks that it frees promoted array buffers V8 left alone.
 */
export function bufferCollection(): (() => void) | null {
  const gc = exposedGc()
  return gc == null ? null : () => gc({ type: 'major', execution: 'async' })
}

/**
 * The process's array buffers' bytes, or -1 when they cannot be read: memoryUsage() also reads the
 * RSS from /proc and throws when it cannot (out of file descriptors), and a ticker task must not
 * throw; a look skipped is a look 4 s later.
 */
function arrayBufferBytes(): number {
  try {
    return process.memoryUsage().arrayBuffers
  } catch {
    return -1
  }
}

export class BufferCollect {
  private readonly init: BufferCollectInit
  private readonly bufferBytes: () => number
  private cancel: (() => void) | null = null
  /** The lowest bytes seen since the last collection (or start). */
  private low = Number.POSITIVE_INFINITY
  /** Collections so far (status and tests). */
  collections = 0

  constructor(init: BufferCollectInit) {
    this.init = init
    this.bufferBytes = init.bufferBytes ?? arrayBufferBytes
  }

  start(): void {
    if (this.init.collect == null) {
      this.init.log.debug('buffer collection off: no gc (the daemon runs without --expose-gc)')
      return
    }
    this.cancel = this.init.every(BUFFER_COLLECT_SAMPLE_MS, () => this.check())
  }

  stop(): void {
    this.cancel?.()
    this.cancel = null
  }

  /** One look (the ticker's task). */
  check(): void {
    const collect = this.init.collect
    if (collect == null) return
    const bytes = this.bufferBytes()
    if (bytes < 0) return
    if (bytes < this.low) this.low = bytes
    if (bytes - this.low < BUFFER_COLLECT_GROWTH_BYTES) return
    collect()
    this.collections++
    this.init.log.debug('buffers collected', { bufferBytes: bytes, lowBytes: this.low })
    // the collection frees them over the next moments: the low follows them down
    this.low = bytes
  }
}
