/**
 * Fuzz frame type 3 (virtio_net_hdr + IPv4, as a remote peer sends it) through the wire validator
 * and the native checksum/segmentation path (vnet.c via the addon's `segmentInto`, no device).
 * Not part of CI:
 *
 *   node packages/tun/bench/fuzz-vnet.ts [--n 1000000] [--seed S] [--dump FILE]
 *
 * `--dump FILE` also writes every frame as `[u32 len][u32 mtu][u32 headroom][frame]` (little-endian)
 * for bench/vnet-asan.c, which replays them through vnet.c built with AddressSanitizer and
 * UndefinedBehaviorSanitizer, each frame in a buffer of exactly its size (see that file).
 *
 * Frames are built valid (TCP super-packets, NEEDS_CSUM TCP/UDP, plain, DATA_VALID) and then,
 * mostly, mutated (header fields set to boundary and random values, IP/TCP/UDP fields changed,
 * truncated, extended). Invariants checked for every frame:
 *   - the addon does not crash and never changes its input;
 *   - with no MTU cap its verdict equals the wire validator's (same reason); with one, it accepts
 *     nothing the validator refuses;
 *   - output fits exactly where the JS model says; the bytes after it and the headroom are
 *     untouched (canaries) or zeroed, never anything else;
 *   - every output packet has the input's addresses, protocol, ports and IP header length; a
 *     non-GSO packet differs from the input at most in its L4 checksum field; segments carry the
 *     input's payload in order, the right sequence numbers, valid IP checksums (TCP checksums
 *     verified on a sample) and fit the MTU.
 * Prints counts per verdict, the seed and the findings (first 20 with the frame's first bytes).
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { prng } from '@meshlan/testkit'
import { native } from '../src/native.ts'

export type VnetCheck = (buf: Uint8Array, off: number, len: number, maxGsoSize: number) => number

export interface FuzzReport {
  seed: number
  n: number
  accepted: number
  segments: number
  reasons: Record<string, number>
  agreement: number
  compared: number
  findings: string[]
  findingCount: number
  ms: number
}

const MAX_IP = 65535
const ARENA = 256 * 1024
const CANARY = 512

function sum16(b: Uint8Array, from: number, to: number, sum = 0): number {
  let i = from
  for (; i + 1 < to; i += 2) sum += (b[i] << 8) | b[i + 1]
  if (i < to) sum += b[i] << 8
  return sum
}
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return sum
}

export function fuzzVnet(opts: {
  n: number
  seed: number
  check?: VnetCheck
  /** Receives every frame (for the ASan replay, bench/vnet-asan.c). */
  dump?: (frame: Uint8Array, mtu: number, headroom: number) => void
}): FuzzReport {
  const addon = native()
  const names = addon.vnetReasons
  const rand = prng(opts.seed)
  const int = (n: number) => Math.floor(rand() * n)
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]
  const arena = new Uint8Array(ARENA + CANARY)
  const empty = new Uint8Array(0)
  const offs = new Uint32Array(256)
  const lens = new Uint32Array(256)
  const reasons: Record<string, number> = {}
  const findings: string[] = []
  let findingCount = 0
  let accepted = 0
  let segments = 0
  let agreement = 0
  let compared = 0
  const t0 = performance.now()

  const boundary = [
    0, 1, 2, 6, 8, 16, 20, 22, 24, 36, 40, 52, 60, 120, 535, 536, 537, 1348, 1360, 1361, 8960, 65495, 65535,
  ]
  const value16 = () => (rand() < 0.7 ? pick(boundary) : int(0x10000))

  /** A valid frame of a random kind (before any mutation). */
  function build(): Uint8Array {
    const kind = int(5)
    const ihl = 20 + (rand() < 0.8 ? 0 : 4 * int(11))
    const proto = kind <= 1 ? 6 : kind === 2 ? 17 : pick([1, 6, 17, 47])
    const tcphl = proto === 6 ? 20 + 4 * (rand() < 0.5 ? 3 : int(11)) : 0
    const l4hl = proto === 6 ? tcphl : 8
    const r = rand()
    const maxPayload = MAX_IP - ihl - l4hl
    const payload =
      kind === 0
        ? Math.min(maxPayload, r < 0.5 ? 1 + int(3000) : r < 0.9 ? 1 + int(20000) : maxPayload - int(100))
        : Math.min(maxPayload, int(1500))
    const total = ihl + l4hl + payload
    const b = new Uint8Array(10 + total)
    const dv = new DataView(b.buffer)
    const ip = 10
    b[ip] = 0x40 | (ihl >> 2)
    dv.setUint16(ip + 2, total)
    dv.setUint16(ip + 4, int(0x10000))
    dv.setUint16(ip + 6, kind === 3 && rand() < 0.3 ? 0x2000 | int(0x2000) : 0x4000)
    b[ip + 8] = 64
    b[ip + 9] = proto
    dv.setUint32(ip + 12, 0x0a900000 | int(0x10000))
    dv.setUint32(ip + 16, 0x0a900000 | int(0x10000))
    for (let i = ip + 20; i < ip + ihl; i++) b[i] = 1 // NOP options
    const l4 = ip + ihl
    dv.setUint16(l4, int(0x10000))
    dv.setUint16(l4 + 2, int(0x10000))
    if (proto === 6) {
      dv.setUint32(l4 + 4, int(0x100000000))
      dv.setUint32(l4 + 8, int(0x100000000))
      b[l4 + 12] = (tcphl >> 2) << 4
      b[l4 + 13] = 0x10 | (rand() < 0.3 ? 0x08 : 0) | (rand() < 0.1 ? 0x01 : 0) | (rand() < 0.1 ? 0x80 : 0)
      dv.setUint16(l4 + 14, int(0x10000))
    } else if (proto === 17) {
      dv.setUint16(l4 + 4, 8 + payload)
    }
    dv.setUint16(l4 + (proto === 6 ? 16 : proto === 17 ? 6 : 2), int(0x10000)) // pseudo-header sum
    // payload: a cheap pattern with a few random bytes (checksums and copies see every byte)
    const fillByte = int(256)
    b.fill(fillByte, l4 + l4hl)
    for (let k = 0; k < 8 && payload > 0; k++) b[l4 + l4hl + int(payload)] = int(256)
    const csum = kind <= 2
    if (csum) {
      b[0] = 1
      dv.setUint16(6, ihl, true)
      dv.setUint16(8, proto === 6 ? 16 : 6, true)
    } else if (kind === 4) {
      b[0] = 2
    }
    if (kind === 0) {
      b[1] = 1
      dv.setUint16(2, ihl + tcphl + (rand() < 0.2 ? int(payload) : 0), true)
      dv.setUint16(4, rand() < 0.8 ? 536 + int(1360 - 536 + 1) : 536 + int(MAX_IP - 40 - 536 + 1), true)
    }
    return b
  }

  function mutate(b0: Uint8Array): Uint8Array {
    let b = b0
    const rounds = 1 + int(3)
    for (let k = 0; k < rounds; k++) {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
      const op = int(10)
      if (op === 0) b[0] = rand() < 0.5 ? pick([0, 1, 2, 3, 4, 0x80, 0xff]) : int(256)
      else if (op === 1) b[1] = pick([0, 1, 3, 4, 5, 0x81, 0x80, int(256)])
      else if (op <= 3 && b.length >= 10) dv.setUint16(2 * (1 + int(4)), value16(), true)
      else if (op === 4 && b.length > 10) b[10] = pick([0x45, 0x44, 0x46, 0x4f, 0x65, int(256)])
      else if (op === 5 && b.length > 13)
        dv.setUint16(12, rand() < 0.5 ? b.length - 10 + int(9) - 4 : value16())
      else if (op === 6 && b.length > 19) b[10 + pick([6, 7, 9])] = pick([0, 6, 17, 1, 0x20, 0x3f, int(256)])
      else if (op === 7 && b.length > 10) {
        const ihl = (b[10] & 15) * 4
        const at = 10 + ihl + pick([4, 5, 12, 13, 0, 2])
        if (at < b.length) b[at] = int(256)
      } else if (op === 8) {
        // truncate or extend
        const delta = int(41) - 20
        const len = Math.max(0, Math.min(b.length + delta, 10 + MAX_IP + 16))
        const n = new Uint8Array(len)
        n.set(b.subarray(0, Math.min(len, b.length)))
        b = n
      } else if (b.length > 0) b[int(Math.min(b.length, 100))] ^= 1 << int(8)
    }
    return b
  }

  function finding(i: number, what: string, b: Uint8Array, mtu: number): void {
    findingCount++
    if (findings.length < 20)
      findings.push(`#${i} mtu=${mtu}: ${what} | ${Buffer.from(b.subarray(0, 64)).toString('hex')}`)
  }

  for (let i = 0; i < opts.n; i++) {
    const frame = rand() < 0.3 ? build() : mutate(build())
    const pristine = frame.slice()
    const mtu = rand() < 0.4 ? 0 : pick([1400, 576, 9000, 68, 1500])
    const headroom = pick([0, 4, 14])
    opts.dump?.(frame, mtu, headroom)
    const r0 = addon.segmentInto(frame, empty, offs, lens, mtu, headroom)
    const cReason = r0 < 0 ? -r0 : 0
    reasons[names[cReason]] = (reasons[names[cReason]] ?? 0) + 1
    if (r0 > 0) finding(i, 'accepted with no output space', frame, mtu)
    if (opts.check) {
      if (mtu === 0) {
        compared++
        const ts = opts.check(frame, 0, frame.length, MAX_IP - 40)
        if (ts === cReason) agreement++
        else finding(i, `wire says ${names[ts]}, native says ${names[cReason]}`, frame, mtu)
      } else if (cReason === 0 && opts.check(frame, 0, frame.length, MAX_IP - 40) !== 0) {
        finding(i, 'native accepts what wire refuses', frame, mtu)
      }
    }
    if (cReason !== 0) {
      if (Buffer.compare(frame, pristine) !== 0) finding(i, 'input changed', frame, mtu)
      continue
    }
    accepted++
    // the JS model of what the frame becomes
    const ip = 10
    const ipLen = frame.length - 10
    const ihl = (frame[ip] & 15) * 4
    const proto = frame[ip + 9]
    const gso = frame[1] === 1
    const csum = (frame[0] & 1) === 1
    const tcphl = proto === 6 && (csum || gso) ? (frame[ip + ihl + 12] >> 4) * 4 : 0
    const hdrs = ihl + tcphl
    const payload = ipLen - hdrs
    let mss = gso ? frame[4] | (frame[5] << 8) : 0
    if (gso && mtu && mss > mtu - hdrs) mss = mtu - hdrs
    const nseg = gso ? Math.ceil(payload / mss) : 1
    const size = gso ? nseg * (headroom + hdrs) + payload : headroom + ipLen
    if (size > ARENA) {
      finding(i, `model output ${size} bytes > arena`, frame, mtu)
      continue
    }
    arena.fill(0xa5, 0, size + CANARY)
    const out = arena.subarray(0, size)
    const r = addon.segmentInto(frame, out, offs, lens, mtu, headroom)
    if (r !== nseg) {
      finding(i, `native made ${r} packets, model ${nseg}`, frame, mtu)
      continue
    }
    segments += nseg
    for (let k = size; k < size + CANARY; k++)
      if (arena[k] !== 0xa5) {
        finding(i, `wrote past the output at +${k - size}`, frame, mtu)
        break
      }
    if (Buffer.compare(frame, pristine) !== 0) finding(i, 'input changed', frame, mtu)
    let expectOff = 0
    for (let s = 0; s < nseg; s++) {
      for (let k = expectOff; k < expectOff + headroom; k++)
        if (arena[k] !== 0) {
          finding(i, `headroom of packet ${s} not zeroed`, frame, mtu)
          break
        }
      const off = offs[s]
      const len = lens[s]
      if (off !== expectOff + headroom)
        finding(i, `packet ${s} at ${off}, expected ${expectOff + headroom}`, frame, mtu)
      expectOff = off + len
      const p = arena.subarray(off, off + len)
      if (p[0] !== frame[ip] || ((p[2] << 8) | p[3]) !== len || p[9] !== proto)
        finding(i, `packet ${s}: IP version/IHL/length/protocol`, frame, mtu)
      for (let k = 12; k < 20; k++)
        if (p[k] !== frame[ip + k]) {
          finding(i, `packet ${s}: addresses changed`, frame, mtu)
          break
        }
      if ((proto === 6 || proto === 17) && (csum || gso))
        for (let k = 0; k < 4; k++)
          if (p[ihl + k] !== frame[ip + ihl + k]) {
            finding(i, `packet ${s}: ports changed`, frame, mtu)
            break
          }
      if (!gso) {
        // identical to the input but for the L4 checksum field
        const at = csum ? ihl + (proto === 6 ? 16 : 6) : len
        if (
          Buffer.compare(p.subarray(0, at), frame.subarray(ip, ip + at)) !== 0 ||
          Buffer.compare(p.subarray(Math.min(at + 2, len)), frame.subarray(ip + Math.min(at + 2, len))) !== 0
        )
          finding(i, 'a byte outside the checksum field changed', frame, mtu)
        continue
      }
      if (mtu && len > mtu) finding(i, `segment ${s} is ${len} bytes > mtu ${mtu}`, frame, mtu)
      if (fold(sum16(p, 0, ihl)) !== 0xffff) finding(i, `segment ${s}: bad IP checksum`, frame, mtu)
      const n = len - hdrs
      if (
        Buffer.compare(p.subarray(hdrs), frame.subarray(ip + hdrs + s * mss, ip + hdrs + s * mss + n)) !== 0
      )
        finding(i, `segment ${s}: payload differs`, frame, mtu)
      const seq = new DataView(frame.buffer).getUint32(ip + ihl + 4)
      if (new DataView(p.buffer, p.byteOffset).getUint32(ihl + 4) !== (seq + s * mss) >>> 0)
        finding(i, `segment ${s}: sequence number`, frame, mtu)
      for (const k of [12, 14, 15, 18, 19])
        if (p[ihl + k] !== frame[ip + ihl + k]) finding(i, `segment ${s}: TCP header byte ${k}`, frame, mtu)
      if (i % 16 === 0) {
        // full TCP checksum on a sample: pseudo-header + segment must sum to 0xffff
        const ph = sum16(p, 12, 20) + 6 + (len - ihl)
        if (fold(sum16(p, ihl, len, ph)) !== 0xffff) finding(i, `segment ${s}: bad TCP checksum`, frame, mtu)
      }
    }
  }
  return {
    seed: opts.seed,
    n: opts.n,
    accepted,
    segments,
    reasons,
    agreement,
    compared,
    findings,
    findingCount,
    ms: Math.round(performance.now() - t0),
  }
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

if (import.meta.main) {
  const n = arg('n', 1_000_000)
  const seed = arg('seed', (Date.now() ^ (process.pid << 16)) >>> 0)
  // wire is a sibling package: the bench compares the two implementations, the product never does
  const wire = await import('../../wire/src/vnet.ts')
  console.log(`fuzz-vnet: n=${n} seed=${seed} (rerun with --seed ${seed})`)
  const dumpAt = process.argv.indexOf('--dump')
  const fd = dumpAt >= 0 ? openSync(process.argv[dumpAt + 1], 'w') : -1
  const head = new Uint8Array(12)
  const dump =
    fd < 0
      ? undefined
      : (frame: Uint8Array, mtu: number, headroom: number) => {
          const dv = new DataView(head.buffer)
          dv.setUint32(0, frame.length, true)
          dv.setUint32(4, mtu, true)
          dv.setUint32(8, headroom, true)
          writeSync(fd, head)
          writeSync(fd, frame)
        }
  const r = fuzzVnet({ n, seed, check: wire.vnetFrameCode, dump })
  if (fd >= 0) closeSync(fd)
  console.log(`frames ${r.n} in ${r.ms} ms; accepted ${r.accepted} → ${r.segments} packets`)
  console.log(`wire and native agree on ${r.agreement} of ${r.compared} frames compared without an MTU cap`)
  console.log('verdicts:', JSON.stringify(r.reasons))
  console.log(`findings: ${r.findingCount}`)
  for (const f of r.findings) console.log(`  ${f}`)
  process.exitCode = r.findingCount === 0 ? 0 : 1
}
