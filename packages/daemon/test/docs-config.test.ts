/**
 * The docs and the config parser list the same settings.
 *
 * (a) Every setting docs/config.md, docs/dns.md and docs/nat.md name (the config.md table, any
 *     `` `[table] key` `` in the text, `` `key = value` `` next to "config.toml") is accepted by
 *     `parseConfig`, with the value the docs' own TOML example gives it, and every TOML example in
 *     those files parses.
 * (b) Every setting `parseConfig` returns (the parsed config's leaves) has a row in the config.md
 *     table.
 * Either side drifting fails here: a setting documented but refused, or accepted but undocumented.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'smol-toml'
import { parseConfig } from '../src/config.ts'

const docsDir = fileURLToPath(new URL('../../../docs/', import.meta.url))
const read = (name: string) => readFileSync(docsDir + name, 'utf8')
const DOCS = { config: read('config.md'), dns: read('dns.md'), nat: read('nat.md') }

/** A setting's path: `name`, or `tun.mtu` for `[tun] mtu`. */
function settingPath(cell: string): string | null {
  const m = /^`(?:\[([a-z_]+)\] )?([a-z_]+)`$/.exec(cell.trim())
  return m == null ? null : m[1] == null ? m[2] : `${m[1]}.${m[2]}`
}

/** The rows of the settings table in config.md (the one whose first header cell is "setting"). */
function tableSettings(md: string): string[] {
  const lines = md.split('\n')
  const start = lines.findIndex((l) => /^\|\s*setting\s*\|/.test(l))
  assert.ok(start >= 0, 'docs/config.md has a settings table (first column "setting")')
  const out: string[] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    const path = settingPath(line.split('|')[1])
    assert.ok(path != null, `config.md settings row names one setting in backticks: ${line.slice(0, 60)}`)
    out.push(path)
  }
  return out
}

/** Settings named in running text: `[table] key`, and `key = value` on a line about config.toml. */
function mentionedSettings(md: string): string[] {
  const out = new Set<string>()
  for (const m of md.matchAll(/`\[([a-z_]+)\] ([a-z_]+)`/g)) out.add(`${m[1]}.${m[2]}`)
  for (const line of md.split('\n')) {
    if (!line.includes('config.toml')) continue
    for (const m of line.matchAll(/`([a-z_]+) = [^`]+`/g)) out.add(m[1])
  }
  return [...out]
}

function tomlBlocks(md: string): string[] {
  return [...md.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1])
}

/** Leaves of a parsed config: `name`, `tun.mtu`, … (tables are the nested objects). */
function leaves(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v != null && typeof v === 'object' && !Array.isArray(v)
      ? leaves(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  )
}

function get(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj)
}

/** One setting as TOML text. */
function toml(path: string, value: unknown): string {
  const parts = path.split('.')
  const line = `${parts.at(-1)} = ${JSON.stringify(value)}`
  return parts.length === 1 ? `${line}\n` : `[${parts[0]}]\n${line}\n`
}

const examples = [...tomlBlocks(DOCS.config), ...tomlBlocks(DOCS.dns)]
const exampleValues: Record<string, unknown> = Object.assign({}, ...examples.map((t) => parse(t)))
const defaults = (() => {
  const r = parseConfig('')
  assert.ok(r.ok)
  return r.value
})()

describe('docs/config.md, dns.md and nat.md against the config parser', () => {
  it('every TOML example in the docs parses', () => {
    assert.ok(examples.length >= 2, 'config.md and dns.md each show a TOML example')
    for (const text of examples) {
      const r = parseConfig(text)
      assert.ok(r.ok, `example refused (${r.ok ? '' : `${r.field}: ${r.reason}`}):\n${text}`)
    }
  })

  it('every documented setting is accepted by the parser', () => {
    const documented = new Set([
      ...tableSettings(DOCS.config),
      ...mentionedSettings(DOCS.config),
      ...mentionedSettings(DOCS.dns),
      ...mentionedSettings(DOCS.nat),
    ])
    assert.ok(documented.size >= 10, `found the documented settings (${[...documented].join(', ')})`)
    for (const path of documented) {
      const value = get(exampleValues, path) ?? get(defaults, path)
      if (value == null) {
        const probe = parseConfig(toml(path, 0))
        assert.ok(
          probe.ok || !probe.reason.startsWith('unknown setting'),
          `${path} is documented but the parser does not know it`,
        )
        assert.fail(`${path}: give it a value in the config.md TOML example`)
      }
      const r = parseConfig(toml(path, value))
      assert.ok(
        r.ok,
        `${path} is documented but the parser refuses it: ${r.ok ? '' : `${r.field}: ${r.reason}`}`,
      )
      assert.deepEqual(get(r.value, path), value, `${path} = ${JSON.stringify(value)} reaches the config`)
    }
  })

  it('every setting the parser accepts has a row in the config.md table', () => {
    const rows = new Set(tableSettings(DOCS.config))
    const accepted = leaves(defaults as unknown as Record<string, unknown>)
    assert.ok(accepted.length >= 10, `the parser's settings: ${accepted.join(', ')}`)
    for (const path of accepted) {
      // the parser really takes it from the file (not only a computed field)
      const value = get(exampleValues, path) ?? get(defaults, path)
      if (value != null) assert.ok(parseConfig(toml(path, value)).ok, `${path} parses`)
      assert.ok(rows.has(path), `the parser accepts ${path} but docs/config.md has no row for it`)
    }
  })

  it('a setting the parser does not know is refused (the check above can fail)', () => {
    const r = parseConfig(toml('dns.port', 5353))
    assert.equal(r.ok, false)
    assert.equal(r.ok ? '' : r.field, 'dns.port')
  })
})
