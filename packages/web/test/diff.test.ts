/** The ACL editor's line diff against the signed version. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { diffLines } from '../src/diff.ts'

describe('diffLines', () => {
  it('keeps common lines, marks removed and added ones in order', () => {
    const d = diffLines('{\n  "rules": []\n}', '{\n  "rules": [\n    {"to": ["*"]}\n  ]\n}')
    assert.deepEqual(
      d.map((l) => `${l.op}${l.text}`),
      [' {', '-  "rules": []', '+  "rules": [', '+    {"to": ["*"]}', '+  ]', ' }'],
    )
  })

  it('no change: every line kept', () => {
    assert.ok(diffLines('a\nb', 'a\nb').every((l) => l.op === ' '))
  })
})
