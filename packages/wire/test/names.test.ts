/**
 * compareNames: the daemon's status lists sort names without an ICU collator; for names that
 * match NAME_RE the order must be the one localeCompare gave.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compareNames, NAME_RE } from '../src/index.ts'

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789-'

function randomName(rand: () => number): string {
  const len = 1 + Math.floor(rand() * 8)
  let s = ALPHABET[Math.floor(rand() * 36)] // no leading '-'
  for (let i = 1; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)]
  return s
}

describe('compareNames', () => {
  it('orders valid names as localeCompare does, without ICU', () => {
    let seed = 7
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    const names = Array.from({ length: 2000 }, () => randomName(rand))
    names.push('a', 'a-b', 'a0', 'ab', 'a-', 'nas', 'nas-2', 'nas2', 'pi', 'pi-4', '0', '9z')
    for (const n of names) assert.match(n, NAME_RE)
    const ours = [...names].sort(compareNames)
    const icu = [...names].sort((a, b) => a.localeCompare(b))
    assert.deepEqual(ours, icu)
    assert.equal(compareNames('x', 'x'), 0)
  })
})
