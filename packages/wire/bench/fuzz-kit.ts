/**
 * (Over 500 lines: the fuzz runner, its mutators and its report in one place, shared by every fuzz command.)
 *
 * The fuzz harness shared by fuzz-all.ts and its targets: a seeded PRNG per input (so one input
 * can be replayed alone with `--at I`), byte and structure-aware JSON mutators, a bound on what a
 * result holds, and the loop that runs one target and counts what happened.
 */
import { isDeepStrictEqual } from 'node:util'

export { prng } from '@meshlan/testkit'

import { prng } from '@meshlan/testkit'

export type Rand = () => number

/** A 32-bit hash of (seed, i): input i of a run depends on nothing else. */
export function mix(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** FNV-1a of a name: each target's seed is mix(seed, hash(name)). */
export function hashName(name: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export const int = (rand: Rand, n: number): number => Math.floor(rand() * n)
export const pick = <T>(rand: Rand, a: readonly T[]): T => a[Math.floor(rand() * a.length)]

export function randomBytes(rand: Rand, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) | 0
  return out
}

/** Mostly short, sometimes long: most parser bugs hide near the small sizes. */
export function randomLength(rand: Rand, max: number): number {
  const r = rand()
  return r < 0.6 ? int(rand, 64) : r < 0.9 ? int(rand, 1024) : int(rand, max + 1)
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const lenientDecoder = new TextDecoder()
export const text = (b: Uint8Array): string => lenientDecoder.decode(b)

export function hex(b: Uint8Array, max = 48): string {
  const h = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, max)).toString('hex')
  return b.length > max ? `${h}…` : h
}

const INTERESTING8 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x2f]
const INTERESTING16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff]

/**
 * Byte-level mutation of a copy of `seed`: bit flips, interesting bytes and 16/32-bit values,
 * inserts, deletes, truncation, extension, duplicated ranges, splices with `other`.
 */
export function mutateBytes(rand: Rand, seed: Uint8Array, other?: Uint8Array, maxLen = 1 << 20): Uint8Array {
  let b = seed.slice()
  const rounds = 1 + int(rand, 4)
  for (let r = 0; r < rounds; r++) {
    const i = b.length === 0 ? 0 : int(rand, b.length)
    switch (int(rand, 11)) {
      case 0:
        if (b.length > 0) b[i] ^= 1 << int(rand, 8)
        break
      case 1:
        if (b.length > 0) b[i] = pick(rand, INTERESTING8)
        break
      case 2: {
        const v = pick(rand, INTERESTING16)
        if (i + 1 < b.length) {
          b[i] = v >> 8
          b[i + 1] = v & 0xff
        }
        break
      }
      case 3: {
        if (i + 3 < b.length) new DataView(b.buffer).setUint32(i, pick(rand, [0, 0xffffffff, 0x7fffffff, 1]))
        break
      }
      case 4: {
        const n = 1 + int(rand, 8)
        const out = new Uint8Array(b.length + n)
        out.set(b.subarray(0, i), 0)
        out.set(randomBytes(rand, n), i)
        out.set(b.subarray(i), i + n)
        b = out
        break
      }
      case 5: {
        const n = 1 + int(rand, Math.max(1, Math.min(16, b.length - i)))
        const out = new Uint8Array(Math.max(0, b.length - n))
        out.set(b.subarray(0, i), 0)
        out.set(b.subarray(i + n), i)
        b = out
        break
      }
      case 6:
        b = b.slice(0, i)
        break
      case 7: {
        // extension: random tail or a repeated byte
        const n = rand() < 0.8 ? 1 + int(rand, 64) : int(rand, 8192)
        const out = new Uint8Array(b.length + n)
        out.set(b, 0)
        if (rand() < 0.5) out.fill(int(rand, 256), b.length)
        else out.set(randomBytes(rand, n), b.length)
        b = out
        break
      }
      case 8: {
        const j = i + int(rand, b.length - i + 1)
        const times = rand() < 0.9 ? 1 : 1 + int(rand, 64)
        const piece = b.subarray(i, j)
        const out = new Uint8Array(b.length + piece.length * times)
        out.set(b.subarray(0, j), 0)
        for (let t = 0; t < times; t++) out.set(piece, j + t * piece.length)
        out.set(b.subarray(j), j + times * piece.length)
        b = out
        break
      }
      case 9:
        if (other != null && other.length > 0) {
          const j = int(rand, other.length)
          const piece = other.subarray(j, j + 1 + int(rand, other.length - j))
          const out = new Uint8Array(i + piece.length)
          out.set(b.subarray(0, i), 0)
          out.set(piece, i)
          b = out
        }
        break
      default:
        if (b.length > 0) b[i] = int(rand, 256)
    }
    if (b.length > maxLen) b = b.slice(0, maxLen)
  }
  return b
}

/** Strings that break naive code: unicode edge cases, lone surrogates, lookalikes, injection. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800', // lone high surrogate: valid JSON escape, not encodable as UTF-8
  '\udfff',
  '\ud83d\ude00',
  '\u202e',
  '\u200b',
  '\ufeff',
  'İ', // lowercases to two code points
  'ſ',
  '１２３', // full-width digits
  '١٢٣',
  'é',
  'e\u0301',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  'toString',
  '%s%n',
  '\n\r\t',
  '/',
  '/p2p/',
  '0',
  '-1',
  '1e3',
  'null',
  'true',
  '10.144.0.1',
  '010.144.0.1',
  '::1',
  '/ip4/127.0.0.1/tcp/1',
]
const HUGE_NUMBERS = [
  0,
  -0,
  -1,
  1,
  0.5,
  1.5,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53 + 2,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -(2 ** 53),
  1e21,
]
/** Number tokens JSON.stringify cannot produce; spliced in as raw text. */
const RAW_TOKENS = [
  '1e999',
  '-1e999',
  '9007199254740993',
  '1E+2',
  '-0.0',
  '0e0',
  '123456789012345678901234567890',
]
const RAW = '\u0001raw:'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Slot = { parent: Json[] | { [k: string]: Json }; key: string | number }

function slots(root: Json, limit = 4096): Slot[] {
  const out: Slot[] = []
  const stack: Json[] = [root]
  while (stack.length > 0 && out.length < limit) {
    const v = stack.pop() as Json
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        out.push({ parent: v, key: i })
        stack.push(v[i])
      }
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k })
        stack.push(v[k])
      }
    }
  }
  return out
}

/** Deeply nested arrays or objects, as raw JSON text (JSON.stringify would overflow the stack). */
function nested(rand: Rand, depth: number): string {
  const leaf = pick(rand, ['0', '"x"', 'null', '[]', '{}'])
  return rand() < 0.5
    ? '{"a":'.repeat(depth) + leaf + '}'.repeat(depth)
    : '['.repeat(depth) + leaf + ']'.repeat(depth)
}

function replacement(rand: Rand, old: Json, all: Slot[], raws: string[], maxBytes: number): Json {
  switch (int(rand, 9)) {
    case 0: // type swap
      return pick(rand, [null, true, false, 0, '', [], {}, '0', [old], { v: old }] as Json[])
    case 1:
      return pick(rand, HUGE_NUMBERS)
    case 2:
      raws.push(pick(rand, RAW_TOKENS))
      return `${RAW}${raws.length - 1}`
    case 3:
      raws.push(
        nested(rand, rand() < 0.8 ? 1 + int(rand, 64) : 1 + int(rand, Math.min(20_000, maxBytes / 2))),
      )
      return `${RAW}${raws.length - 1}`
    case 4: {
      const s = pick(rand, NASTY_STRINGS)
      if (typeof old === 'string' && old.length > 0 && rand() < 0.6) {
        const at = int(rand, old.length + 1)
        return old.slice(0, at) + s + old.slice(at)
      }
      return s
    }
    case 5: {
      // grow strings and arrays, up to a little past the format's cap (beyond it only size is checked)
      const unit = typeof old === 'string' ? old.length : Array.isArray(old) ? JSON.stringify(old).length : 0
      const most = Math.max(2, Math.floor((1.2 * maxBytes) / Math.max(1, unit)))
      const n = rand() < 0.8 ? 2 : 2 + int(rand, most)
      if (typeof old === 'string') return old.repeat(n)
      if (Array.isArray(old) && old.length > 0)
        return Array.from({ length: old.length * n }, (_, i) => old[i % old.length])
      return old
    }
    case 6: {
      // a value from elsewhere in the document (e.g. a peer id where a name belongs)
      const s = pick(rand, all)
      // a copy: the value may be an ancestor of the slot it lands in
      return structuredClone((s.parent as Record<string | number, Json>)[s.key])
    }
    case 7:
      if (typeof old === 'number') return old + pick(rand, [-1, 1, 0.5, 2 ** 32, -(2 ** 53)])
      if (typeof old === 'string') return old.toUpperCase()
      return old
    default:
      return typeof old === 'string' ? old.slice(0, int(rand, old.length + 1)) : null
  }
}

/**
 * Structure-aware mutation of a JSON document: 1–3 edits at random places (type swaps, huge
 * numbers, deep nesting, unicode, grown strings and arrays, values moved between fields, deleted,
 * added, duplicated and `__proto__` keys). Growth stops near `maxBytes` (the format's cap).
 * Returns the mutated document's UTF-8 bytes.
 */
export function mutateJson(rand: Rand, seed: unknown, maxBytes = 64 * 1024): Uint8Array {
  const root = structuredClone(seed) as Json
  const dupes: string[] = []
  const raws: string[] = []
  const rounds = 1 + int(rand, 3)
  for (let r = 0; r < rounds; r++) {
    const all = slots(root)
    if (all.length === 0) break
    const s = pick(rand, all)
    const parent = s.parent as Record<string | number, Json>
    const op = rand()
    if (op < 0.65) {
      parent[s.key] = replacement(rand, parent[s.key], all, raws, maxBytes)
    } else if (op < 0.75) {
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1)
      else delete parent[s.key]
    } else if (op < 0.85 && !Array.isArray(s.parent)) {
      const k = pick(rand, ['extra', '__proto__', 'constructor', 'type', 'v', 'ok', 'x'.repeat(100)])
      Object.defineProperty(s.parent, k, {
        value: replacement(rand, null, all, raws, maxBytes),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else if (op < 0.92 && !Array.isArray(s.parent) && typeof s.key === 'string') {
      dupes.push(s.key) // a second copy of this key, spliced in as raw text below
    } else if (Array.isArray(s.parent)) {
      s.parent.push(s.parent[s.key as number])
    }
  }
  let out = JSON.stringify(root)
  if (raws.length > 0) out = out.replace(/"\\u0001raw:(\d+)"/g, (_, k) => raws[Number(k)])
  for (const k of dupes) {
    const at = out.indexOf('{')
    if (at >= 0)
      out = `${out.slice(0, at + 1)}${JSON.stringify(k)}:${JSON.stringify('dup')},${out.slice(at + 1)}`
  }
  return utf8(out)
}

/**
 * Rough bytes a value holds (strings 2 per char, bytes as is, 8 per slot, 16 per object), walking
 * at most `limit` worth; used to check that no result holds much more than its input.
 */
export function sizeOf(value: unknown, limit: number): number {
  let total = 0
  const seen = new Set<unknown>()
  const stack: unknown[] = [value]
  while (stack.length > 0 && total <= limit) {
    const v = stack.pop()
    if (typeof v === 'string') total += 2 * v.length
    else if (typeof v !== 'object' || v === null) total += 8
    else if (seen.has(v)) total += 8
    else if (ArrayBuffer.isView(v)) {
      seen.add(v)
      total += v.byteLength
    } else {
      seen.add(v)
      total += 16
      if (Array.isArray(v)) {
        total += 8 * v.length
        for (const x of v) stack.push(x)
      } else {
        for (const k of Object.keys(v)) {
          total += 8 + 2 * k.length
          stack.push((v as Record<string, unknown>)[k])
        }
      }
    }
  }
  return total
}

/**
 * Deep equality for decoded values: like isDeepStrictEqual (prototypes included, so a `__proto__`
 * key that became a prototype is a difference) except that -0 equals 0 — JSON cannot keep the
 * sign of zero, and no format gives it a meaning.
 */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (a instanceof Uint8Array || b instanceof Uint8Array) return isDeepStrictEqual(a, b)
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false
    if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/** What a target's generator hands the harness. */
export interface Case<I = Uint8Array> {
  input: I
  /** How it was made ("random", "bytes", "json", "resigned", …): counted per mode. */
  mode: string
  /** Anything the invariant check needs to know about how the input was made. */
  meta?: unknown
}

/** A parser's answer; a refusal may carry a `value` for the invariant check (never size-checked). */
export type Verdict = { ok: true; value: unknown } | { ok: false; reason: string; value?: unknown }

/** One parser under fuzz. */
export interface Target<I = Uint8Array> {
  name: string
  /** What the parser is and what the invariants are (printed with --list). */
  about: string
  /** Build seeds and state once (valid encodings made with the real encoders). */
  setup(): Promise<TargetRun<I>>
}

export interface TargetRun<I> {
  gen(rand: Rand, i: number): Case<I> | Promise<Case<I>>
  /** Runs the parser: never throws if the parser keeps its promise. Timed. */
  run(c: Case<I>): Verdict | Promise<Verdict>
  /** Invariants beyond "no throw, bounded": null when they hold, else what broke. Not timed. */
  check?(c: Case<I>, v: Verdict): string | null | Promise<string | null>
  /** Extra numbers to print (bounds reached, agreement counts). */
  extra?(): Record<string, number | string>
  /**
   * Bytes a result may hold per input byte plus this constant (default 64 KiB). Default 32: JSON
   * costs ~12 of our units per input byte at worst (`[[[[…]]]]`: 24 per array per 2 bytes), and a
   * decoded envelope holds its input, its payload and its body.
   */
  sizeFactor?: number
  sizeSlack?: number
}

export interface Summary {
  name: string
  seed: number
  n: number
  accepted: number
  rejected: number
  reasons: Record<string, number>
  modes: Record<string, [number, number]>
  slowest: { ms: number; index: number; mode: string; len: number; confirmedMs: number; head: string }
  findings: Record<string, number>
  examples: string[]
  ms: number
  heapPeakMB: number
  rssPeakMB: number
  extra: Record<string, number | string>
}

/** Reasons carry values (lengths, indices, names): fold those so the top-5 counts mean something. */
export function bucket(reason: string): string {
  // a schema error lists up to three issues: the first names the rule that refused
  return reason
    .split('; ')[0]
    .replace(/'[^']*'/g, "'…'")
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b\d+\b/g, 'N')
    .slice(0, 90)
}

/** Inputs slower than this are run again; slower every time is a finding. */
const SLOW_MS = 50
const MAX_EXAMPLES = 20

function inputLen(input: unknown): number {
  if (input instanceof Uint8Array) return input.length
  if (typeof input === 'string') return input.length
  if (Array.isArray(input)) return input.reduce((s, x) => s + inputLen(x), 0)
  return 0
}

function inputHead(input: unknown): string {
  if (input instanceof Uint8Array) return hex(input)
  if (typeof input === 'string') return JSON.stringify(input.slice(0, 64))
  if (Array.isArray(input)) return input.map(inputHead).join(' | ').slice(0, 200)
  return String(input)
}

/** Runs `n` inputs from `from` (or only input `at`) through one target. */
export async function runTarget<I>(
  target: Target<I>,
  opts: { n: number; seed: number; at?: number; progress?: (done: number) => void },
): Promise<Summary> {
  const tr = await target.setup()
  const factor = tr.sizeFactor ?? 32
  const slack = tr.sizeSlack ?? 64 * 1024
  const s = emptySummary(target.name, opts.seed, 0)
  const finding = (kind: string, i: number, c: Case<I>, detail: string): void => {
    s.findings[kind] = (s.findings[kind] ?? 0) + 1
    if (s.examples.length < MAX_EXAMPLES) {
      s.examples.push(
        `${kind} #${i} (${c.mode}, ${inputLen(c.input)} B): ${detail.slice(0, 300)} | ${inputHead(c.input)}`,
      )
    }
  }
  let maxRatio = 0
  const first = opts.at ?? 0
  const last = opts.at != null ? opts.at + 1 : opts.n
  const t0 = performance.now()
  for (let i = first; i < last; i++) {
    const rand = prng(mix(opts.seed, i))
    const g = tr.gen(rand, i)
    const c = g instanceof Promise ? await g : g
    let v: Verdict
    const t = performance.now()
    try {
      const r = tr.run(c)
      v = r instanceof Promise ? await r : r
    } catch (err) {
      s.n++
      s.rejected++
      s.reasons.THREW = (s.reasons.THREW ?? 0) + 1
      finding('threw', i, c, `${(err as Error).name}: ${(err as Error).message}`)
      continue
    }
    const ms = performance.now() - t
    if (opts.at != null) {
      // replaying one input: show it whole
      const show = (x: unknown): string =>
        x instanceof Uint8Array ? text(x) : Array.isArray(x) ? x.map(show).join('') : String(x)
      process.stderr.write(
        `input #${i} (${c.mode}):\n${show(c.input).slice(0, 4000)}\nverdict: ${JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? hex(x, 200) : x)).slice(0, 4000)}\n`,
      )
    }
    s.n++
    let m = s.modes[c.mode]
    if (m == null) {
      m = [0, 0]
      s.modes[c.mode] = m
    }
    m[0]++
    if (v.ok) {
      s.accepted++
      m[1]++
    } else {
      s.rejected++
      const b = bucket(v.reason)
      s.reasons[b] = (s.reasons[b] ?? 0) + 1
    }
    if (ms > s.slowest.ms) {
      s.slowest = {
        ms,
        index: i,
        mode: c.mode,
        len: inputLen(c.input),
        confirmedMs: ms,
        head: inputHead(c.input),
      }
      if (ms > SLOW_MS) {
        // a GC pause or a slow machine is not the input's fault: time it again
        let best = ms
        for (let k = 0; k < 3; k++) {
          const t2 = performance.now()
          try {
            await tr.run(c)
          } catch {}
          best = Math.min(best, performance.now() - t2)
        }
        s.slowest.confirmedMs = best
        if (best > SLOW_MS) finding('slow', i, c, `${best.toFixed(1)} ms every time`)
      }
    }
    if (v.ok) {
      const limit = factor * inputLen(c.input) + slack
      const size = sizeOf(v.value, limit)
      const ratio = size / Math.max(1, inputLen(c.input))
      if (ratio > maxRatio && inputLen(c.input) >= 64) maxRatio = ratio
      if (size > limit)
        finding('result-too-big', i, c, `result holds > ${limit} for a ${inputLen(c.input)}-byte input`)
    }
    if (tr.check != null) {
      let bad: string | null
      try {
        const r = tr.check(c, v)
        bad = r instanceof Promise ? await r : r
      } catch (err) {
        bad = `check threw ${(err as Error).name}: ${(err as Error).message}`
      }
      if (bad != null) {
        const colon = bad.indexOf(':')
        finding(colon > 0 ? bad.slice(0, colon) : bad, i, c, bad)
      }
    }
    if ((i & 0x3fff) === 0) {
      const mem = process.memoryUsage()
      s.heapPeakMB = Math.max(s.heapPeakMB, mem.heapUsed / 2 ** 20)
      s.rssPeakMB = Math.max(s.rssPeakMB, mem.rss / 2 ** 20)
      opts.progress?.(i - first)
    }
  }
  const mem = process.memoryUsage()
  s.heapPeakMB = Math.round(Math.max(s.heapPeakMB, mem.heapUsed / 2 ** 20))
  s.rssPeakMB = Math.round(Math.max(s.rssPeakMB, mem.rss / 2 ** 20))
  s.ms = Math.round(performance.now() - t0)
  s.extra = { ...(tr.extra?.() ?? {}), maxResultBytesPerInputByte: Math.round(maxRatio * 10) / 10 }
  return s
}

/** A summary with nothing counted yet. */
export function emptySummary(name: string, seed: number, n: number): Summary {
  return {
    name,
    seed,
    n,
    accepted: 0,
    rejected: 0,
    reasons: {},
    modes: {},
    slowest: { ms: 0, index: -1, mode: '', len: 0, confirmedMs: 0, head: '' },
    findings: {},
    examples: [],
    ms: 0,
    heapPeakMB: 0,
    rssPeakMB: 0,
    extra: {},
  }
}
