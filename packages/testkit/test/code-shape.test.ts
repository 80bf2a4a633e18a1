/**
 * The architecture issue's bounds, kept: node.ts stays a short composer, a source file over 500
 * lines says why at its top, and no `any` reaches into a library (what we need from libp2p comes
 * through declared components or the one typed adapter).
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const PACKAGES = fileURLToPath(new URL('../../', import.meta.url))
/** docs/architecture.md: the node is composed, not implemented, in node.ts. */
const NODE_TS_MAX_LINES = 300
const LONG_FILE_LINES = 500
/** How a long file says why: in its first comment lines. */
const WHY_LONG = /\(Over 500 lines/

function sources(): string[] {
  const out: string[] = []
  for (const pkg of readdirSync(PACKAGES)) {
    const walk = (dir: string): void => {
      let entries: import('node:fs').Dirent[]
      try {
        entries = readdirSync(dir, { withFileTypes: true })
      } catch {
        return // a package without src/
      }
      for (const e of entries) {
        const p = join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p)
      }
    }
    walk(join(PACKAGES, pkg, 'src'))
  }
  return out
}

describe('code shape (issue 15)', () => {
  const files = sources()

  it('finds the sources it checks', () => {
    assert.ok(
      files.some((f) => f.endsWith(join('mesh', 'src', 'node.ts'))),
      'mesh/src/node.ts is checked',
    )
    assert.ok(files.length > 100, `only ${files.length} source files found under ${PACKAGES}`)
  })

  it(`mesh/src/node.ts has at most ${NODE_TS_MAX_LINES} lines`, () => {
    const node = files.find((f) => f.endsWith(join('mesh', 'src', 'node.ts')))
    assert.ok(node != null)
    const lines = readFileSync(node, 'utf8').split('\n').length - 1
    assert.ok(lines <= NODE_TS_MAX_LINES, `node.ts has ${lines} lines: move a concern into its service`)
  })

  it(`a source file over ${LONG_FILE_LINES} lines says why in its first lines`, () => {
    const silent = files.filter((f) => {
      const text = readFileSync(f, 'utf8')
      const lines = text.split('\n').length - 1
      return lines > LONG_FILE_LINES && !WHY_LONG.test(text.split('\n').slice(0, 5).join('\n'))
    })
    assert.deepEqual(silent, [], 'add "(Over 500 lines: why)" at the top, or split the file')
  })

  it('no `any` in sources', () => {
    const ANY = /\bas any\b|:\s*any\b|<any>/
    const hits = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((l, i) => ({ l, at: `${f}:${i + 1}` }))
        .filter(({ l }) => ANY.test(l) && !/^\s*(\*|\/\/)/.test(l))
        .map(({ at }) => at),
    )
    assert.deepEqual(hits, [])
  })
})
