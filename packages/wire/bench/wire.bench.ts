/**
 * Throughput of the hot-path parsers. Prints numbers; asserts nothing.
 *   node bench/wire.bench.ts
 */
import {
  checkIpv4,
  createFrameBatch,
  encodeFrame,
  FrameDecoder,
  ipv4Dst,
  ipv4Proto,
  ipv4Src,
  l4DstPort,
  l4SrcPort,
} from '../src/index.ts'

function packet(size: number): Uint8Array {
  const b = new Uint8Array(size)
  b[0] = 0x45
  b[2] = size >> 8
  b[3] = size & 0xff
  b[9] = 17
  b.set([10, 144, 0, 1, 10, 144, 0, 2], 12)
  b.set([0x13, 0x88, 0x13, 0x89], 20)
  return b
}

function bench(name: string, n: number, bytes: number, fn: () => void): void {
  fn()
  const t0 = process.hrtime.bigint()
  fn()
  const ns = Number(process.hrtime.bigint() - t0)
  const s = ns / 1e9
  console.log(
    `${name.padEnd(44)} ${(n / s / 1e6).toFixed(2).padStart(8)} Mops/s ${((bytes * 8) / s / 1e9).toFixed(2).padStart(8)} Gbit/s`,
  )
}

// IPv4 accessors over a slab of 1400-byte packets
{
  const count = 256
  const p = packet(1400)
  const slab = new Uint8Array(count * 1404)
  for (let i = 0; i < count; i++) slab.set(p, i * 1404 + 4)
  const rounds = 20_000
  let sink = 0
  bench('checkIpv4 + 5 accessors (1400 B)', count * rounds, count * rounds * 1400, () => {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < count; i++) {
        const off = i * 1404 + 4
        if (checkIpv4(slab, off, 1400) === 0) {
          sink +=
            ipv4Src(slab, off) ^
            ipv4Dst(slab, off) ^
            ipv4Proto(slab, off) ^
            l4SrcPort(slab, off) ^
            l4DstPort(slab, off)
        }
      }
    }
  })
  if (sink === 42) console.log('')
}

// FrameDecoder over 64 KiB chunks of 1400-byte frames
for (const size of [64, 1400, 9000]) {
  const frame = encodeFrame(1, packet(size))
  const perChunk = Math.floor(65536 / frame.length)
  const stream = new Uint8Array(perChunk * frame.length * 4)
  for (let i = 0; i < perChunk * 4; i++) stream.set(frame, i * frame.length)
  const chunks: Uint8Array[] = []
  for (let o = 0; o < stream.length; o += 65536 - 7) chunks.push(stream.subarray(o, o + 65536 - 7)) // misaligned
  const dec = new FrameDecoder()
  const batch = createFrameBatch(256)
  const rounds = 2000
  let frames = 0
  bench(`FrameDecoder ${size} B frames, 64 KiB chunks`, perChunk * 4 * rounds, stream.length * rounds, () => {
    for (let r = 0; r < rounds; r++) {
      for (const c of chunks) {
        dec.push(c)
        for (let n = dec.decode(batch); typeof n === 'number' && n > 0; n = dec.decode(batch))
          frames += batch.count
      }
    }
  })
  if (frames === 0) throw new Error('no frames')
}
