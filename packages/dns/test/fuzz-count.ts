/** Scales a fuzz iteration count by MESHLAN_FUZZ_SCALE (e.g. 0.1 for a quick run, 10 for a long one). */
export function fuzzCount(n: number): number {
  const scale = Number(process.env.MESHLAN_FUZZ_SCALE ?? '1')
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)))
}
