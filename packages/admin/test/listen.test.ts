/** `[admin] listen`: parsing, and where each entry may bind (loopback, overlay, public only opted in). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { adminBind, parseAdminListen } from '../src/listen.ts'

const p = (s: string) => {
  const l = parseAdminListen(s)
  assert.ok(typeof l !== 'string', `${s}: ${l}`)
  return l
}

describe('[admin] listen', () => {
  it('parses IPv4, [IPv6], localhost, overlay; refuses the rest', () => {
    assert.deepEqual(p('127.0.0.1:7947'), { host: '127.0.0.1', port: 7947, kind: 'loopback' })
    assert.deepEqual(p('localhost:1'), { host: '127.0.0.1', port: 1, kind: 'loopback' })
    assert.deepEqual(p('[::1]:7947'), { host: '::1', port: 7947, kind: 'loopback' })
    assert.deepEqual(p('overlay:7947'), { host: 'overlay', port: 7947, kind: 'overlay' })
    assert.deepEqual(p('0.0.0.0:7947'), { host: '0.0.0.0', port: 7947, kind: 'other' })
    for (const bad of ['7947', 'example.com:80', '[nope]:1', '1.2.3.4:70000', '1.2.3.4'])
      assert.equal(typeof parseAdminListen(bad), 'string', bad)
  })

  it('loopback always; overlay once the node has an address; other addresses need public', () => {
    assert.deepEqual(adminBind(p('127.0.0.1:1'), false, null), { host: '127.0.0.1', port: 1 })
    assert.equal(adminBind(p('overlay:1'), false, null), null, 'waits for the overlay address')
    assert.deepEqual(adminBind(p('overlay:1'), false, '10.144.0.1'), { host: '10.144.0.1', port: 1 })
    assert.deepEqual(adminBind(p('10.144.0.1:1'), false, '10.144.0.1'), { host: '10.144.0.1', port: 1 })
    const refused = adminBind(p('0.0.0.0:1'), false, '10.144.0.1')
    assert.ok(refused != null && 'refused' in refused && /public = true/.test(refused.refused))
    assert.deepEqual(adminBind(p('0.0.0.0:1'), true, null), { host: '0.0.0.0', port: 1 })
  })
})
