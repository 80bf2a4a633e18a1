/**
 * The owner's policy-signing key at rest: `owner.key`, encrypted with a passphrase.
 *
 *   offset  size  field
 *   0       8     magic "MLOWNKEY"
 *   8       1     format version (1)
 *   9       1     KDF (1 = scrypt)
 *   10      1     log2(N)      scrypt cost
 *   11      1     r            scrypt block size
 *   12      1     p            scrypt parallelism
 *   13      1     AEAD (1 = AES-256-GCM)
 *   14      16    salt
 *   30      12    nonce
 *   42      16    check        HMAC-SHA256(check key, "meshlan owner key check")[0:16]
 *   58      n     ciphertext   of the key's libp2p protobuf (Ed25519: 68 bytes)
 *   58+n    16    GCM tag      over the ciphertext, with bytes 0..57 as additional data
 *   74+n    16    digest       SHA-256 of everything before it, [0:16]
 *
 * scrypt derives 64 bytes: 32 for AES-256-GCM, 32 for the check value. The digest tells a
 * damaged or edited file apart from a wrong passphrase before any KDF work; the check value
 * tells a wrong passphrase apart from a ciphertext changed behind a recomputed digest (the GCM tag
 * then fails). Every header byte is authenticated, so nobody can lower the KDF cost unnoticed.
 *
 * scrypt N = 2^17, r = 8, p = 1: 128 MiB of memory and ~0.4 s on a 2020s x86 core, 1-2 s on a
 * Raspberry Pi 4. That is OWASP's recommended minimum for scrypt; a guess costs an attacker the
 * same 128 MiB. 2^18 (256 MiB) would be safer against GPUs but risks the OOM killer on a 1 GB Pi
 * already running the daemon (~175 MB RSS under load), and unlocking is rare, so 2^17 it is.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from 'node:crypto'
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { DaemonError } from './errors.ts'
import { WrongPassphraseError } from './owner-lock.ts'

const MAGIC = Buffer.from('MLOWNKEY', 'ascii')
const FORMAT_VERSION = 1
const KDF_SCRYPT = 1
const AEAD_AES_256_GCM = 1
const HEADER_BYTES = 58
const TAG_BYTES = 16
const DIGEST_BYTES = 16

export interface ScryptParams {
  log2N: number
  r: number
  p: number
}

/** See the file comment for why. Tests pass cheaper ones. */
export const DEFAULT_SCRYPT: ScryptParams = { log2N: 17, r: 8, p: 1 }

/** Passphrases shorter than this are refused: scrypt slows guessing, it cannot save "1234". */
export const MIN_PASSPHRASE_CHARS = 8

/** The owner key file cannot be read: damaged, edited, or from a newer meshlan. */
export class OwnerKeyFileError extends DaemonError {
  constructor(path: string, problem: string) {
    super('ERR_OWNER_KEY_FILE', `${path}: ${problem}`)
    this.name = 'OwnerKeyFileError'
  }
}

export class WeakPassphraseError extends DaemonError {
  constructor() {
    super(
      'ERR_WEAK_PASSPHRASE',
      `the passphrase must have at least ${MIN_PASSPHRASE_CHARS} characters: choose a longer one`,
    )
    this.name = 'WeakPassphraseError'
  }
}

function derive(passphrase: string, salt: Buffer, k: ScryptParams): Promise<Buffer> {
  const N = 2 ** k.log2N
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128 * N * r bytes; Node's default cap (32 MiB) is below ours
    scrypt(
      passphrase.normalize('NFC'),
      salt,
      64,
      { N, r: k.r, p: k.p, maxmem: 129 * N * k.r * k.p + 1024 * 1024 },
      (err, key) => (err == null ? resolve(key) : reject(err)),
    )
  })
}

function checkValue(checkKey: Buffer, label: string): Buffer {
  return createHmac('sha256', checkKey).update(label).digest().subarray(0, 16)
}

function digest(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, DIGEST_BYTES)
}

/**
 * A file sealed with a passphrase in the layout above. owner.key and the owner backup
 * (owner-backup.ts) share it; each has its own magic and check label, so one can never be taken
 * for the other (both are authenticated), and its own errors, so messages name the right file.
 */
export interface SealFormat {
  /** For messages: "owner key", "owner backup". */
  what: string
  magic: Buffer
  checkLabel: string
  fileError(path: string, problem: string): Error
  wrongPassphrase(): Error
}

const OWNER_KEY_FORMAT: SealFormat = {
  what: 'owner key',
  magic: MAGIC,
  checkLabel: 'meshlan owner key check',
  fileError: (path, problem) => new OwnerKeyFileError(path, problem),
  wrongPassphrase: () => new WrongPassphraseError(),
}

/** `plain` encrypted under `passphrase` in `format`'s layout (the caller zeroes `plain`). */
export async function sealWithPassphrase(
  format: SealFormat,
  plain: Uint8Array,
  passphrase: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<Uint8Array> {
  if ([...passphrase].length < MIN_PASSPHRASE_CHARS) throw new WeakPassphraseError()
  const salt = randomBytes(16)
  const nonce = randomBytes(12)
  const derived = await derive(passphrase, salt, params)
  const header = Buffer.concat([
    format.magic,
    Buffer.from([FORMAT_VERSION, KDF_SCRYPT, params.log2N, params.r, params.p, AEAD_AES_256_GCM]),
    salt,
    nonce,
    checkValue(derived.subarray(32), format.checkLabel),
  ])
  const cipher = createCipheriv('aes-256-gcm', derived.subarray(0, 32), nonce)
  cipher.setAAD(header)
  const body = Buffer.concat([header, cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  derived.fill(0)
  return new Uint8Array(Buffer.concat([body, digest(body)]))
}

/** True when `bytes` start with `format`'s magic, whatever their state. */
export function hasMagic(format: SealFormat, bytes: Uint8Array): boolean {
  const m = format.magic
  return bytes.length >= m.length && Buffer.from(bytes.subarray(0, m.length)).equals(m)
}

/**
 * Opens a sealed file. Throws `format.wrongPassphrase()` for a wrong passphrase and
 * `format.fileError(path, …)` for a file that is damaged, edited or of an unknown format.
 * The caller zeroes the returned bytes when done.
 */
export async function openWithPassphrase(
  format: SealFormat,
  bytes: Uint8Array,
  passphrase: string,
  path: string,
): Promise<Buffer> {
  const buf = Buffer.from(bytes)
  const fail = (problem: string): Error => format.fileError(path, problem)
  if (!hasMagic(format, buf)) throw fail(`is not a meshlan ${format.what} file`)
  if (buf[8] !== FORMAT_VERSION) {
    throw fail(`has format version ${buf[8]}, which this meshlan does not know: upgrade meshlan`)
  }
  const changed = 'was changed or damaged (integrity check failed): restore it from a backup'
  if (buf.length < HEADER_BYTES + TAG_BYTES + DIGEST_BYTES + 1) throw fail(changed)
  const body = buf.subarray(0, buf.length - DIGEST_BYTES)
  if (!timingSafeEqual(digest(body), buf.subarray(buf.length - DIGEST_BYTES))) throw fail(changed)
  if (buf[9] !== KDF_SCRYPT || buf[13] !== AEAD_AES_256_GCM)
    throw fail('names an unknown KDF or cipher: upgrade meshlan')
  const params: ScryptParams = { log2N: buf[10], r: buf[11], p: buf[12] }
  if (
    params.log2N < 10 ||
    params.log2N > 22 ||
    params.r < 1 ||
    params.r > 32 ||
    params.p < 1 ||
    params.p > 16
  ) {
    throw fail(`has implausible scrypt parameters: ${changed}`)
  }
  const header = body.subarray(0, HEADER_BYTES)
  const salt = header.subarray(14, 30)
  const nonce = header.subarray(30, 42)
  const derived = await derive(passphrase, salt, params)
  try {
    if (!timingSafeEqual(checkValue(derived.subarray(32), format.checkLabel), header.subarray(42, 58)))
      throw format.wrongPassphrase()
    const decipher = createDecipheriv('aes-256-gcm', derived.subarray(0, 32), nonce)
    decipher.setAAD(header)
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
    try {
      return Buffer.concat([
        decipher.update(body.subarray(HEADER_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ])
    } catch {
      throw fail(`${changed} (the passphrase is right but the ciphertext does not authenticate)`)
    }
  } finally {
    derived.fill(0)
  }
}

/** The key, encrypted under `passphrase`: the bytes of an owner.key file. */
export async function encryptOwnerKey(
  key: PrivateKey,
  passphrase: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<Uint8Array> {
  const plain = Buffer.from(privateKeyToProtobuf(key))
  try {
    return await sealWithPassphrase(OWNER_KEY_FORMAT, plain, passphrase, params)
  } finally {
    plain.fill(0)
  }
}

/** True when `bytes` look like an owner.key file (magic), whatever their state. */
export function isOwnerKeyFile(bytes: Uint8Array): boolean {
  return hasMagic(OWNER_KEY_FORMAT, bytes)
}

/**
 * Decrypts an owner.key file. Throws WrongPassphraseError for a wrong passphrase and
 * OwnerKeyFileError (naming `path`) for a file that is damaged, edited or of an unknown format.
 */
export async function decryptOwnerKey(
  bytes: Uint8Array,
  passphrase: string,
  path = 'owner.key',
): Promise<PrivateKey> {
  const plain = await openWithPassphrase(OWNER_KEY_FORMAT, bytes, passphrase, path)
  try {
    return privateKeyFromProtobuf(new Uint8Array(plain))
  } catch {
    throw new OwnerKeyFileError(path, 'holds no valid key: restore it from a backup')
  } finally {
    plain.fill(0)
  }
}

/** `network protect` on a network whose owner key is also the owner node's libp2p key. */
export class OwnerKeyIsNodeKeyError extends DaemonError {
  constructor() {
    super(
      'ERR_OWNER_KEY_IS_NODE_KEY',
      "this network's owner key is also this node's key, which must stay readable for the node to start " +
        'unattended, so it cannot be encrypted: protect a new network instead (`meshlan network create NAME --passphrase-file FILE`)',
    )
    this.name = 'OwnerKeyIsNodeKeyError'
  }
}
