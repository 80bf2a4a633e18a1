/**
 * @meshlan/testkit — helpers shared by the tests, fuzzers and benchmarks of several packages (never
 * imported by product code): the one seeded PRNG, so every randomised run can be replayed from the
 * seed it prints, and minimal IPv4 packet builders.
 */

export { echoPacket, ipPacket, tcpPacket, udpPacket } from './packets.ts'

/** A random number in [0, 1), like Math.random, but reproducible from its seed. */
export type Rand = () => number

/** mulberry32: small, fast and seedable; statistically plenty for fuzzing and fault timing. */
export function prng(seed: number): Rand {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The seed of a randomised run: `process.env[envVar]` when set (to replay a failure), else a fresh
 * one. Callers print it with their results.
 */
export function runSeed(envVar: string): number {
  const fromEnv = process.env[envVar]
  if (fromEnv != null && fromEnv !== '') {
    const n = Number(fromEnv)
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${envVar}=${fromEnv} is not a whole number ≥ 0`)
    return n >>> 0
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0
}
