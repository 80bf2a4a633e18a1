/** Sessions are bounded in number (oldest evicted), expire idle and absolutely, and are keyed by hash. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_SESSIONS, SESSION_IDLE_MS, SESSION_MAX_MS } from '../src/constants.ts'
import { SessionStore } from '../src/sessions.ts'

describe('SessionStore', () => {
  it(`keeps at most ${MAX_SESSIONS} sessions: the oldest goes first`, () => {
    const s = new SessionStore()
    const first = s.create('alice', false).id
    for (let i = 0; i < MAX_SESSIONS + 5; i++) s.create('alice', false)
    assert.equal(s.size, MAX_SESSIONS)
    assert.equal(s.get(first), null)
  })

  it('expires after idle time, and after the absolute limit even when used', () => {
    let now = 1_000_000
    const s = new SessionStore(() => now)
    const a = s.create('alice', false).id
    now += SESSION_IDLE_MS + 1
    assert.equal(s.get(a), null, 'idle')
    const b = s.create('alice', false).id
    for (let t = 0; t < SESSION_MAX_MS; t += SESSION_IDLE_MS / 2) {
      now += SESSION_IDLE_MS / 2
      if (t + SESSION_IDLE_MS / 2 < SESSION_MAX_MS) assert.notEqual(s.get(b), null)
    }
    now += SESSION_IDLE_MS / 2
    assert.equal(s.get(b), null, 'absolute limit')
  })

  it('an unknown or empty cookie is no session; deleteUser ends a user’s sessions', () => {
    const s = new SessionStore()
    assert.equal(s.get(''), null)
    assert.equal(s.get('x'), null)
    const { id } = s.create('bob', true)
    assert.notEqual(s.get(id)?.totpAt, null)
    s.deleteUser('bob')
    assert.equal(s.get(id), null)
  })
})
