/** A line diff (longest common subsequence): what signing would change, before signing it. */

export interface DiffLine {
  op: ' ' | '+' | '-'
  text: string
}

/** ACLs are a few dozen lines: the O(n·m) table is small. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split('\n')
  const b = after.split('\n')
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const out: DiffLine[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push({ op: ' ', text: a[i++] })
      j++
    } else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1]))
      // removed lines first, as `diff -u` shows a change
      out.push({ op: '-', text: a[i++] })
    else out.push({ op: '+', text: b[j++] })
  }
  return out
}
