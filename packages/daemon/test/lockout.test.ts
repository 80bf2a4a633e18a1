import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Lockout } from '../src/lockout.ts'

describe('Lockout', () => {
  let dir: string
  let t = 1_000_000
  const now = () => t
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlan-lockout-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('locks a source out after 5 failures in 15 min, with doubling back-off; other sources unaffected', async () => {
    const file = join(dir, 'a.json')
    const l = new Lockout({ file, maxFailures: 5, windowMs: 15 * 60_000, now })
    for (let i = 0; i < 4; i++) assert.equal((await l.fail('ip:203.0.113.5')).lockedOut, false)
    assert.equal(await l.check('ip:203.0.113.5'), 0)
    const fifth = await l.fail('ip:203.0.113.5')
    assert.equal(fifth.lockedOut, true)
    assert.equal(fifth.retryAfterMs, 5 * 60_000)
    assert.equal(await l.check('ip:203.0.113.5'), 5 * 60_000)
    assert.equal(await l.check('ip:198.51.100.7'), 0, 'another source is not locked out')
    t += 5 * 60_000 + 1
    assert.equal(await l.check('ip:203.0.113.5'), 0)
    const again = await l.fail('ip:203.0.113.5')
    assert.equal(again.lockedOut, true, 'after a lockout one failure locks again')
    assert.equal(again.retryAfterMs, 10 * 60_000, 'twice as long')
    // the state survives a restart (a new instance on the same file)
    const l2 = new Lockout({ file, now })
    assert.equal(await l2.check('ip:203.0.113.5'), 10 * 60_000)
    assert.match(await readFile(file, 'utf8'), /"ip:203\.0\.113\.5"/)
  })

  it('list(): sources with failures in the window or a lockout in force (the web admin shows them)', async () => {
    const l = new Lockout({ file: join(dir, 'list.json'), now })
    for (let i = 0; i < 5; i++) await l.fail('ip:203.0.113.9')
    await l.fail('ip:198.51.100.1')
    assert.deepEqual(await l.list(), [
      { source: 'ip:203.0.113.9', retryAfterMs: 5 * 60_000, failures: 0 },
      { source: 'ip:198.51.100.1', retryAfterMs: 0, failures: 1 },
    ])
    t += 24 * 3_600_000
    assert.deepEqual(await l.list(), [], 'a day later: nothing in force, nothing in the window')
  })

  it('failures older than the window do not count; a success forgets only that source', async () => {
    const l = new Lockout({ file: join(dir, 'b.json'), now })
    for (let i = 0; i < 4; i++) await l.fail('uid:1000')
    t += 15 * 60_000
    assert.equal((await l.fail('uid:1000')).lockedOut, false, 'the old four fell out of the window')
    for (let i = 0; i < 4; i++) await l.fail('uid:1001')
    await l.succeed('uid:1000')
    assert.equal((await l.fail('uid:1001')).lockedOut, true, "1000's success did not reset 1001")
  })

  it('a damaged state file is treated as empty', async () => {
    const { writeFile } = await import('node:fs/promises')
    const file = join(dir, 'c.json')
    await writeFile(file, '{not json')
    const l = new Lockout({ file, now })
    assert.equal(await l.check('uid:0'), 0)
    await l.fail('uid:0')
    assert.match(await readFile(file, 'utf8'), /"uid:0"/)
  })
})
