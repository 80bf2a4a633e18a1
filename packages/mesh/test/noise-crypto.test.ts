/**
 * Contract of the AEAD Noise encrypts with (src/noise-crypto.ts over @meshlan/tun's addon): it
 * must be ChaCha20-Poly1305 byte for byte — a peer running Noise's default crypto, or any other
 * Noise implementation, has to read what we send — open in place where Noise asks, and refuse
 * anything that does not authenticate.
 */
import assert from 'node:assert/strict'
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { type Aead, chacha20Poly1305 } from '@meshlan/tun'
import { createLibp2p, type Libp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { NoiseDecryptError } from '../src/errors.ts'
import { noiseCrypto } from '../src/noise-crypto.ts'

const SIZES = [0, 1, 15, 16, 17, 100, 1199, 1200, 4096, 65519]

function reference(pt: Uint8Array, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Buffer {
  const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 })
  c.setAAD(ad, { plaintextLength: pt.byteLength })
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()])
}

/** `buf` as a list cut at random points (including empty parts), `parts` pieces. */
function split(buf: Uint8Array, parts: number): Uint8ArrayList {
  const cuts = Array.from({ length: parts - 1 }, () => Math.floor(Math.random() * (buf.byteLength + 1))).sort(
    (x, y) => x - y,
  )
  const list = new Uint8ArrayList()
  let at = 0
  for (const c of [...cuts, buf.byteLength]) {
    // copies, so no part shares memory with another or with `buf`
    list.append(Uint8Array.from(buf.subarray(at, c)))
    at = c
  }
  return list
}

/** The addon's AEAD, counting calls: proves the path under test is ours. */
function counting(): Aead & { seals: number; opens: number } {
  const a = chacha20Poly1305()
  const c = {
    seals: 0,
    opens: 0,
    seal: (...args: Parameters<Aead['seal']>) => {
      c.seals++
      return a.seal(...args)
    },
    open: (...args: Parameters<Aead['open']>) => {
      c.opens++
      return a.open(...args)
    },
  }
  return c
}

describe('noiseCrypto: ChaCha20-Poly1305 as Noise uses it', () => {
  const crypto = noiseCrypto()
  const k = randomBytes(32)
  const nonce = randomBytes(12)
  const ad = randomBytes(32)

  it('seals byte for byte what node:crypto seals, from one buffer or split parts', () => {
    for (const n of SIZES) {
      const pt = randomBytes(n)
      const want = reference(pt, nonce, ad, k)
      assert.deepEqual(
        Buffer.from(crypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k).subarray()),
        want,
        `${n} B`,
      )
      for (const parts of [2, 5, 64, 65, 200]) {
        const got = crypto.chaCha20Poly1305Encrypt(split(pt, parts), nonce, ad, k)
        assert.deepEqual(Buffer.from(got.subarray()), want, `${n} B in ${parts} parts`)
      }
    }
  })

  it('opens what node:crypto sealed: in place into dst, into a copy, from split parts', () => {
    for (const n of SIZES) {
      const pt = randomBytes(n)
      const sealed = reference(pt, nonce, ad, k)
      // in place, as Noise does for a message in one chunk: dst is a view of the ciphertext
      const buf = Buffer.from(sealed)
      const dst = buf.subarray(0, n)
      const got = crypto.chaCha20Poly1305Decrypt(buf, nonce, ad, k, dst).subarray()
      assert.equal(got.buffer, dst.buffer, 'the plaintext is dst itself')
      assert.equal(got.byteOffset, dst.byteOffset)
      assert.deepEqual(Buffer.from(got), pt, `${n} B in place`)
      // no dst (handshake payloads): a new buffer
      assert.deepEqual(
        Buffer.from(crypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, ad, k).subarray()),
        pt,
      )
      // split across chunks, tag included: Noise's dst is then its copy of the ciphertext
      for (const parts of [2, 3, 64, 65, 100]) {
        const list = split(sealed, parts)
        const copy = list.subarray(0, n)
        const out = crypto.chaCha20Poly1305Decrypt(list, nonce, ad, k, copy)
        assert.deepEqual(Buffer.from(out.subarray()), pt, `${n} B in ${parts} parts`)
        // a message within one part is opened in place there (copy is then a view); else the
        // received parts are left as they were
        const view = [...list].some((p) => p.buffer === copy.buffer)
        if (!view) assert.deepEqual(Buffer.from(list.subarray()), sealed, 'the received parts are unchanged')
      }
    }
  })

  it('refuses a changed bit anywhere (ciphertext, tag, ad, nonce, key) and a message shorter than a tag', () => {
    const pt = randomBytes(1500)
    const sealed = reference(pt, nonce, ad, k)
    const flip = (b: Uint8Array, i: number) => {
      const c = Uint8Array.from(b)
      c[i] ^= 0x01
      return c
    }
    const cases: Array<[string, () => unknown]> = [
      ['ciphertext', () => crypto.chaCha20Poly1305Decrypt(flip(sealed, 7), nonce, ad, k)],
      ['tag', () => crypto.chaCha20Poly1305Decrypt(flip(sealed, sealed.length - 1), nonce, ad, k)],
      ['ad', () => crypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, flip(ad, 0), k)],
      ['nonce', () => crypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), flip(nonce, 11), ad, k)],
      ['key', () => crypto.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, ad, flip(k, 31))],
      [
        'split + tag',
        () => crypto.chaCha20Poly1305Decrypt(split(flip(sealed, sealed.length - 3), 4), nonce, ad, k),
      ],
      ['15 bytes', () => crypto.chaCha20Poly1305Decrypt(sealed.subarray(0, 15), nonce, ad, k)],
    ]
    for (const [what, run] of cases) assert.throws(run, NoiseDecryptError, what)
  })

  it('the addon refuses outputs that overlap its input, and bad sizes, with a named error', () => {
    const a = chacha20Poly1305()
    const buf = randomBytes(200)
    assert.throws(() => a.seal(k, nonce, ad, buf.subarray(0, 100), buf.subarray(50)), /must not overlap/)
    assert.throws(
      () => a.open(k, nonce, ad, buf.subarray(0, 100), buf.subarray(100, 116), buf.subarray(1, 101)),
      /not overlap it partly/,
    )
    assert.throws(
      () => a.seal(k.subarray(1), nonce, ad, buf, Buffer.alloc(300)),
      /key must be a Uint8Array of 32/,
    )
    assert.throws(() => a.seal(k, nonce.subarray(1), ad, buf, Buffer.alloc(300)), /nonce must be/)
    assert.throws(() => a.seal(k, nonce, ad, buf, Buffer.alloc(215)), /plus a 16-byte tag/)
    assert.throws(() => a.open(k, nonce, ad, buf, buf.subarray(0, 15), Buffer.alloc(200)), /tag must be/)
    assert.throws(() => a.open(k, nonce, ad, buf, buf.subarray(0, 16), Buffer.alloc(199)), /whole plaintext/)
    assert.throws(
      () => a.seal(k, nonce, ad, [buf, 'x' as unknown as Uint8Array], Buffer.alloc(300)),
      /every part/,
    )
  })

  it('a getter among the parts that frees out cannot make the addon write freed memory (red-team)', () => {
    const out = new Uint8Array(4096 + 16)
    const src: Uint8Array[] = [new Uint8Array(2048)]
    Object.defineProperty(src, 1, {
      enumerable: true,
      get() {
        out.buffer.transfer(1) // detaches out: its memory is freed
        return new Uint8Array(2048)
      },
    })
    assert.throws(() => chacha20Poly1305().seal(k, nonce, ad, src, out), { code: 'ERR_MESHLAN_AEAD_ARG' })
  })

  it('a tag that lies inside out is read before out is written (red-team)', () => {
    const pt = randomBytes(64)
    const sealed = reference(pt, nonce, ad, k)
    // out spans the ciphertext and its tag: the tag must be taken before the plaintext lands
    const buf = Buffer.concat([sealed, Buffer.alloc(16)])
    const src = Uint8Array.from(buf.subarray(0, 64))
    assert.equal(chacha20Poly1305().open(k, nonce, ad, src, buf.subarray(64, 80), buf), true)
    assert.deepEqual(buf.subarray(0, 64), pt)
  })
})

describe('noiseCrypto on a real Noise connection with a default-crypto peer', () => {
  const PROTO = '/meshlan/test/noise-crypto-echo/1.0.0'
  const ours = counting()
  let a: Libp2p
  let b: Libp2p
  const node = (crypto?: ReturnType<typeof noiseCrypto>) =>
    createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise(crypto ? { crypto } : {})],
      streamMuxers: [yamux()],
      // its pings keep a timer alive for a while after stop(); nothing here needs them
      connectionMonitor: { enabled: false },
    })
  before(async () => {
    ;[a, b] = await Promise.all([node(noiseCrypto(ours)), node()])
    // b (Noise's default crypto) echoes every byte back
    await b.handle(PROTO, (stream) => {
      stream.addEventListener('message', (evt) => {
        stream.send(evt.data)
      })
      stream.addEventListener('remoteCloseWrite', () => {
        void stream.close()
      })
    })
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('4 MiB in small and large writes goes there and back intact', async () => {
    const stream = await a.dialProtocol(b.getMultiaddrs(), PROTO, { signal: AbortSignal.timeout(5000) })
    const payload = randomBytes(4 * 1024 * 1024)
    const back = new Uint8ArrayList()
    const done = new Promise<void>((resolve) => {
      stream.addEventListener('message', (evt) => {
        back.append(evt.data)
        if (back.byteLength >= payload.byteLength) resolve()
      })
    })
    const sealsBefore = ours.seals
    const opensBefore = ours.opens
    // small writes (Noise's default seals < 1200 B with WebAssembly), then large ones
    const sizes = [1, 60, 100, 1199, 1200, 9000]
    const send = async (piece: Uint8Array) => {
      if (!stream.send(piece)) await new Promise((r) => stream.addEventListener('drain', r, { once: true }))
    }
    let at = 0
    for (let i = 0; at < 200_000; i++) {
      const size = sizes[i % sizes.length] as number
      await send(payload.subarray(at, at + size))
      at += size
    }
    await send(payload.subarray(at, at + (1 << 20)))
    at += 1 << 20
    for (; at < payload.byteLength; at += 65536) await send(payload.subarray(at, at + 65536))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      done,
      new Promise((_, j) => {
        timer = setTimeout(() => j(new Error(`echoed ${back.byteLength} B in 20 s`)), 20_000)
      }),
    ]).finally(() => clearTimeout(timer))
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
    assert.equal(sha(back.subarray()), sha(payload), 'the echo is the payload')
    assert.ok(ours.seals - sealsBefore > 64, `our AEAD sealed ${ours.seals - sealsBefore} messages`)
    assert.ok(ours.opens - opensBefore > 64, `our AEAD opened ${ours.opens - opensBefore} messages`)
    await stream.close()
  })
})
