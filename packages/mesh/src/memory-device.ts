/**
 * An in-memory PacketDevice: what the pump sees of a TUN, for in-process tests and the
 * multi-node simulations. `inject()` plays the kernel sending packets into the tunnel;
 * `written` collects what the pump delivered.
 */
import { FRAME_HEADER_BYTES } from '@meshlan/wire'
import type { PacketDevice } from './pump.ts'

export class MemoryDevice implements PacketDevice {
  readonly headroom = FRAME_HEADER_BYTES
  readonly written: Uint8Array[] = []
  private onBatch:
    | ((slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => void)
    | null = null
  private waiters: Array<() => void> = []

  start(
    onBatch: (slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => void,
  ): void {
    this.onBatch = onBatch
  }

  /** Hands packets to the pump as one batch, laid out like the real device does. */
  inject(packets: Uint8Array[]): void {
    if (this.onBatch == null) throw new Error('device not started')
    const total = packets.reduce((s, p) => s + p.byteLength + this.headroom, 0)
    const slab = new Uint8Array(total)
    const offsets = new Uint32Array(packets.length)
    const lengths = new Uint32Array(packets.length)
    let pos = 0
    packets.forEach((p, i) => {
      pos += this.headroom
      slab.set(p, pos)
      offsets[i] = pos
      lengths[i] = p.byteLength
      pos += p.byteLength
    })
    this.onBatch(slab, offsets, lengths, packets.length)
  }

  writeBatch(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    for (let i = 0; i < count; i++) this.written.push(slab.slice(offsets[i], offsets[i] + lengths[i]))
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
    return count
  }

  /** Resolves once at least `n` packets were written. */
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.written.length < n) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${n} packets (got ${this.written.length})`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }

  close(): void {
    this.onBatch = null
  }
}
