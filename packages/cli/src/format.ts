/** Human output: small aligned tables, byte counts, times. */

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = -1
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(1)} ${units[u]}`
}

export function ms(n: number | null): string {
  return n == null ? '-' : `${n < 10 ? n.toFixed(2) : Math.round(n)} ms`
}

export function when(t: number | null): string {
  return t == null ? 'never' : new Date(t).toISOString().replace(/\.\d+Z$/, 'Z')
}

/**
 * "direct", "direct over IPv6", or "relay via r1 (symmetric-nat)": the path, the underlay's
 * family when it is IPv6 (IPv4 is what everyone assumes), and, when not direct, why.
 */
export function pathText(p: {
  path: string
  via?: string | null
  why?: string | null
  family?: string | null
}): string {
  if (p.path === 'direct') return p.family === 'ipv6' ? 'direct over IPv6' : 'direct'
  const via = p.via != null ? ` via ${p.via}` : ''
  const why = p.why != null ? ` (${p.why})` : ''
  return `${p.path}${via}${why}`
}
