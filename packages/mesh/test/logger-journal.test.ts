/**
 * Under systemd, when stderr is the journal (JOURNAL_STREAM names its device:inode), log lines drop
 * their own timestamp and carry the syslog priority prefix so `journalctl -p` filters; when
 * JOURNAL_STREAM names another file (stderr redirected elsewhere), or is absent, they keep the
 * timestamp. A reload changes the level of a logger and its children at once.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createLogger, type LogLevelRef } from '../src/logger.ts'

const LOGGER = new URL('../src/logger.ts', import.meta.url).href
const dir = mkdtempSync(join(tmpdir(), 'meshlan-journal-'))

function logTo(file: string, journalStream: string | null): string {
  const fd = openSync(file, 'w')
  const st = statSync(file)
  const env = { ...process.env, MESHLAN_LOG: 'debug' } as NodeJS.ProcessEnv
  delete env.JOURNAL_STREAM
  if (journalStream != null)
    env.JOURNAL_STREAM = journalStream === 'self' ? `${st.dev}:${st.ino}` : journalStream
  const code = `const { createLogger } = await import(${JSON.stringify(LOGGER)}); const l = createLogger('daemon'); l.info('up', { peer: 'x' }); l.warn('slow'); l.error('bad'); l.debug('d')`
  spawnSync(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', fd], env })
  closeSync(fd)
  return readFileSync(file, 'utf8')
}

describe('logger', () => {
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('journal: priority prefixes, no timestamps', () => {
    const out = logTo(join(dir, 'a'), 'self')
    assert.deepEqual(out.trim().split('\n'), [
      '<6>info  daemon up peer=x',
      '<4>warn  daemon slow',
      '<3>error daemon bad',
      '<7>debug daemon d',
    ])
  })

  it('stderr elsewhere (JOURNAL_STREAM of another file, or none): timestamps as before', () => {
    for (const js of ['1:2', null]) {
      const lines = logTo(join(dir, 'b'), js).trim().split('\n')
      assert.equal(lines.length, 4)
      assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z info {2}daemon up peer=x$/)
    }
  })

  it('a shared level changes for the logger and its children at once', () => {
    const lines: string[] = []
    const ref: LogLevelRef = { level: 'warn' }
    const log = createLogger('daemon', { levelRef: ref, sink: (l) => lines.push(l) })
    const child = log.child('dns')
    child.info('hidden')
    ref.level = 'debug'
    child.debug('shown')
    assert.equal(log.debugEnabled, true)
    assert.equal(lines.length, 1)
    assert.match(lines[0], /debug daemon:dns shown/)
  })
})
