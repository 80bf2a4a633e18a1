import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AuditLog, readAudit, verifyAudit } from '../src/audit-log.ts'

const ev = (i: number) => ({
  event: 'key.create',
  actor: 'uid:0',
  source: 'uid:0',
  detail: { key: `k${i}`, version: i },
})

describe('audit log', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlan-audit-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('chains lines; verify passes, then names the first edited line', async () => {
    const file = join(dir, 'a.log')
    const log = new AuditLog({ file })
    for (let i = 1; i <= 5; i++) await log.append(ev(i))
    const ok = await verifyAudit(file)
    assert.equal(ok.ok, true)
    assert.equal(ok.lines, 5)
    const lines = (await readFile(file, 'utf8')).split('\n')
    assert.equal(JSON.parse(lines[0]).ok, true)
    lines[2] = lines[2].replace('"k3"', '"k9"') // an edit that is still valid JSON
    await writeFile(file, lines.join('\n'))
    const bad = await verifyAudit(file)
    assert.equal(bad.ok, false)
    // line 3 was edited: line 4's prev no longer matches it
    assert.equal(bad.bad?.line, 4)
    assert.match(bad.bad?.reason ?? '', /prev does not match/)
  })

  it('rotates at the size bound and keeps one chain across both files', async () => {
    const file = join(dir, 'r.log')
    const log = new AuditLog({ file, maxBytes: 600 })
    for (let i = 1; i <= 12; i++) await log.append(ev(i))
    assert.ok((await stat(`${file}.1`)).size > 0)
    assert.ok((await stat(file)).size <= 600 + 300)
    const v = await verifyAudit(file)
    assert.equal(v.ok, true, JSON.stringify(v.bad))
    const all = await readAudit(file)
    assert.ok(all.length >= 4)
    assert.equal(all.at(-1)?.detail.key, 'k12')
  })

  it('a fragment left by a crash is reported, then cut and recorded by the next append', async () => {
    const file = join(dir, 'c.log')
    const log = new AuditLog({ file })
    await log.append(ev(1))
    await appendFile(file, '{"ts":"2025-01-01T00:00:00.000Z","event":"key.cr')
    const v = await verifyAudit(file)
    assert.equal(v.ok, true)
    assert.deepEqual(v.truncated, { file, line: 2 })
    await log.append(ev(2))
    const v2 = await verifyAudit(file)
    assert.equal(v2.ok, true)
    assert.equal(v2.truncated, null)
    assert.deepEqual(
      (await readAudit(file)).map((l) => l.event),
      ['key.create', 'audit.truncated', 'key.create'],
    )
  })

  it('kill -9 during appends leaves a verifiable log', async () => {
    const file = join(dir, 'k.log')
    const src = new URL('../src/audit-log.ts', import.meta.url).pathname
    const code = `import { AuditLog } from ${JSON.stringify(src)}
const log = new AuditLog({ file: ${JSON.stringify(file)} })
for (let i = 0; ; i++) { await log.append({ event: 'x', actor: 'a', source: 's', detail: { i, pad: 'p'.repeat(2000) } }); if (i === 20) process.stdout.write('go\\n') }`
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    await new Promise((r) => setTimeout(r, 50))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const v = await verifyAudit(file)
    assert.equal(v.ok, true, JSON.stringify(v.bad))
    assert.ok(v.lines > 20)
    // and the next writer continues a valid chain
    await new AuditLog({ file }).append(ev(1))
    assert.equal((await verifyAudit(file)).ok, true)
  })
})
