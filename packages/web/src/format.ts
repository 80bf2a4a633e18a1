/** Numbers and times as the pages show them. */

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

export function when(ms: number | null | undefined): string {
  if (ms == null) return '—'
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'
}

export function duration(s: number): string {
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  return `${Math.floor(m / 60)} h ${m % 60} min`
}

/** A path as people say it: direct, or relayed via R and why not direct. */
export function pathText(p: { path: string; via: string | null; why: string | null }): string {
  if (p.path === 'direct') return 'direct'
  if (p.path === 'relay') return `relay via ${p.via ?? '?'}${p.why ? ` (${p.why})` : ''}`
  return `no path${p.why ? ` (${p.why})` : ''}`
}
