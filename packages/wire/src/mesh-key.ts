/**
 * Mesh keys and network ids.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import {
  MESH_KEY_HKDF_SALT,
  MESH_KEY_SECRET_BYTES,
  NETWORK_ID_DOMAIN,
  NETWORK_ID_HASH_BYTES,
  NETWORK_ID_PREFIX,
} from './constants.ts'
import { toBase32 } from './encoding.ts'
import { InvalidMessageError } from './errors.ts'

/** A fresh random 32-byte mesh key secret (goes into a join string). */
export function newMeshKeySecret(): Uint8Array {
  return new Uint8Array(randomBytes(MESH_KEY_SECRET_BYTES))
}

/**
 * The 32-byte Ed25519 seed of a mesh key: HKDF-SHA256(ikm = secret, salt = "meshlan mesh key v1",
 * info = UTF-8 networkId, length 32).
 */
export function meshKeySeed(secret: Uint8Array, networkId: string): Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length !== MESH_KEY_SECRET_BYTES) {
    throw new InvalidMessageError('mesh key', `secret must be ${MESH_KEY_SECRET_BYTES} bytes`)
  }
  return new Uint8Array(hkdfSync('sha256', secret, MESH_KEY_HKDF_SALT, networkId, 32))
}

/** Derive the Ed25519 mesh key for `networkId` from a join-string secret. */
export function deriveMeshKey(secret: Uint8Array, networkId: string): Promise<Ed25519PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', meshKeySeed(secret, networkId))
}

/**
 * A short stable network id: `"n"` + lowercase unpadded base32 of the first 10 bytes of
 * SHA-256("meshlan/network-id/v1\n" + ownerPeerId + "\n" + name + "\n" + createdAt) — 17 characters.
 */
export function networkIdFrom(ownerPeerId: string, name: string, createdAt: number): string {
  const h = createHash('sha256')
    .update(`${NETWORK_ID_DOMAIN}${ownerPeerId}\n${name}\n${createdAt}`, 'utf8')
    .digest()
  return NETWORK_ID_PREFIX + toBase32(h.subarray(0, NETWORK_ID_HASH_BYTES))
}
