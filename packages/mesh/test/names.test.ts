import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { normaliseName, uniqueNames } from '../src/topology.ts'

describe('node names', () => {
  it('normalises hostnames into DNS labels', () => {
    assert.equal(normaliseName('My_Laptop.local'), 'my-laptop-local')
    assert.equal(normaliseName('--NAS--'), 'nas')
    assert.equal(normaliseName('ünïcode box'), 'n-code-box')
    assert.equal(normaliseName(''), 'node')
    assert.equal(normaliseName('x'.repeat(80)).length, 63)
  })
  it('settles duplicates the same way whatever the order: the smallest peer id keeps the name', () => {
    const wanted = [
      { peerId: '12D3KooWzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzABCDEF', name: 'nas' },
      { peerId: '12D3KooWaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa123456', name: 'NAS' },
      { peerId: '12D3KooWmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmXYZXYZ', name: 'pi' },
    ]
    const a = uniqueNames(wanted)
    const b = uniqueNames([...wanted].reverse())
    assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort())
    assert.equal(a.get(wanted[1].peerId), 'nas')
    assert.equal(a.get(wanted[0].peerId), 'nas-abcdef')
    assert.equal(a.get(wanted[2].peerId), 'pi')
    assert.equal(new Set(a.values()).size, 3)
  })
})
