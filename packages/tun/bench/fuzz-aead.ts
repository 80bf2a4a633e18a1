/**
 * Fuzz the AEAD's open (native/aead.c) with what a remote peer controls: the ciphertext, the tag
 * and how the bytes are cut into received chunks. Not part of CI (a seeded 20,000-input run is, in
 * test/aead.test.ts):
 *
 *   node packages/tun/bench/fuzz-aead.ts [--n 1000000] [--seed S]
 *
 * Each input: a message sealed with a random key/nonce/ad (0–2100 bytes), then, mostly, mutated
 * (bit flips, a byte set, truncated or extended by up to 40 bytes — the tag then comes from
 * elsewhere — or replaced by random bytes) and cut into 1–70 parts, opened into a separate
 * buffer or in place. Invariants: open never throws for well-sized arguments (more than 64 parts
 * is refused by a RangeError, which the caller avoids), returns true exactly when the message is
 * the sealed one, the plaintext is then byte-equal, the bytes after `out` are untouched, and the
 * received parts are unchanged unless opened in place. Prints counts, the seed and findings.
 */
import { createCipheriv } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { prng, type Rand } from '@meshlan/testkit'
import { AEAD_MAX_PARTS, AEAD_TAG_LENGTH, chacha20Poly1305 } from '../src/aead.ts'

export interface AeadFuzzReport {
  seed: number
  n: number
  opened: number
  refused: number
  findings: string[]
}

function bytes(rand: Rand, n: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0
  return b
}

function seal(pt: Uint8Array, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: AEAD_TAG_LENGTH })
  c.setAAD(ad, { plaintextLength: pt.byteLength })
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()])
}

function cut(rand: Rand, buf: Uint8Array, parts: number): Uint8Array[] {
  const cuts = Array.from({ length: parts - 1 }, () => (rand() * (buf.byteLength + 1)) | 0).sort(
    (x, y) => x - y,
  )
  const out: Uint8Array[] = []
  let at = 0
  for (const c of [...cuts, buf.byteLength]) {
    out.push(buf.slice(at, c))
    at = c
  }
  return out
}

const same = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.compare(a, b) === 0

export function fuzzAead(n: number, seed: number): AeadFuzzReport {
  const aead = chacha20Poly1305()
  const rand = prng(seed)
  const report: AeadFuzzReport = { seed, n, opened: 0, refused: 0, findings: [] }
  const finding = (i: number, what: string) => {
    if (report.findings.length < 20) report.findings.push(`input ${i}: ${what}`)
  }
  for (let i = 0; i < n; i++) {
    const k = bytes(rand, 32)
    const nonce = bytes(rand, 12)
    const ad = bytes(rand, rand() < 0.5 ? 0 : (rand() * 64) | 0)
    const pt = bytes(rand, rand() < 0.1 ? (rand() * 17) | 0 : (rand() * 2100) | 0)
    const sealed = seal(pt, nonce, ad, k)
    let msg = sealed
    const m = rand()
    if (m < 0.2) {
      // unchanged: must open
    } else if (m < 0.55) {
      msg = Uint8Array.from(sealed)
      const flips = 1 + ((rand() * 3) | 0)
      for (let f = 0; f < flips; f++) msg[(rand() * msg.byteLength) | 0] ^= 1 << ((rand() * 8) | 0)
    } else if (m < 0.7) {
      msg = Uint8Array.from(sealed)
      msg[(rand() * msg.byteLength) | 0] = (rand() * 256) | 0
    } else if (m < 0.8) {
      msg = sealed.slice(0, Math.max(AEAD_TAG_LENGTH, sealed.byteLength - 1 - ((rand() * 40) | 0)))
    } else if (m < 0.9) {
      msg = Buffer.concat([sealed, bytes(rand, 1 + ((rand() * 40) | 0))])
    } else {
      msg = bytes(rand, AEAD_TAG_LENGTH + ((rand() * 2100) | 0))
    }
    const intact = same(msg, sealed)
    const len = msg.byteLength - AEAD_TAG_LENGTH
    const tag = msg.slice(len)
    const inPlace = rand() < 0.3
    const parts = inPlace
      ? [msg.slice(0, len)]
      : cut(rand, msg.subarray(0, len), 1 + ((rand() * AEAD_MAX_PARTS) | 0))
    const partsBefore = parts.map((p) => p.slice())
    const backing = inPlace ? (parts[0] as Uint8Array) : new Uint8Array(len + 8).fill(0xa5)
    const out = backing.subarray(0, len)
    let ok: boolean
    try {
      ok = aead.open(k, nonce, ad, inPlace ? (parts[0] as Uint8Array) : parts, tag, out)
    } catch (err) {
      finding(i, `threw ${(err as Error).message} (len ${len}, parts ${parts.length})`)
      continue
    }
    if (ok) report.opened++
    else report.refused++
    if (ok !== intact)
      finding(i, `open returned ${ok} for a ${intact ? 'sealed' : 'changed'} message of ${len} B`)
    if (ok && !same(out, pt)) finding(i, 'opened, but the plaintext differs')
    if (!inPlace) {
      if (backing.subarray(len).some((b) => b !== 0xa5)) finding(i, 'wrote past out')
      if (parts.some((p, j) => !same(p, partsBefore[j] as Uint8Array))) finding(i, 'changed a received part')
    }
  }
  return report
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name)
    return i < 0 ? undefined : process.argv[i + 1]
  }
  const n = Number(arg('--n') ?? 1_000_000)
  const seed = Number(arg('--seed') ?? Math.floor(Math.random() * 2 ** 32))
  const t0 = performance.now()
  const r = fuzzAead(n, seed)
  console.log(
    `aead fuzz: ${r.n} inputs, seed ${r.seed}: opened ${r.opened}, refused ${r.refused}, ` +
      `${r.findings.length} findings, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
  for (const f of r.findings) console.log(`  ${f}`)
  process.exitCode = r.findings.length > 0 ? 1 : 0
}
