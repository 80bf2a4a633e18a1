import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { aclToFile, MAX_ACL_RULES, parseAcl, validateAcl } from '../src/acl/index.ts'

function errorsOf(text: string): string[] {
  const r = parseAcl(text)
  assert.equal(r.ok, false, `expected ${text} to be rejected`)
  return r.ok ? [] : r.errors.map((e) => e.message)
}

function rejects(text: string, path: string, fragment: string): void {
  const r = parseAcl(text)
  assert.equal(r.ok, false, `expected ${text} to be rejected`)
  if (r.ok) return
  const hit = r.errors.find((e) => e.path === path)
  assert.ok(hit, `no issue at ${path} for ${text}; got ${JSON.stringify(r.errors)}`)
  assert.ok(hit.message.startsWith(path === '' ? '' : `${path}: `), hit.message)
  assert.ok(hit.message.includes(fragment), `"${hit.message}" lacks "${fragment}"`)
}

describe('parseAcl accepts', () => {
  it('allow everything', () => {
    const r = parseAcl('{"rules":[{"to":["*"]}]}')
    assert.ok(r.ok)
    assert.deepEqual(r.acl.rules[0].to, [{ kind: 'any', text: '*' }])
    assert.deepEqual(r.acl.rules[0].ports, [{ proto: 'any', lo: 0, hi: 65535, text: '*' }])
  })

  it('ssh to one node', () => {
    const r = parseAcl('{"rules":[{"to":["node:server"],"ports":["22/tcp"]}]}')
    assert.ok(r.ok)
    assert.deepEqual(r.acl.rules[0].to, [{ kind: 'node', name: 'server', text: 'node:server' }])
    assert.deepEqual(r.acl.rules[0].ports, [{ proto: 'tcp', lo: 22, hi: 22, text: '22/tcp' }])
  })

  it('every target and port form, comments, BOM', () => {
    const text =
      '\ufeff{"comment":"guests","rules":[{"comment":"all","to":["*","node:a-1.b_c","tag:web","10.144.3.7",' +
      '"10.0.0.0/8","0.0.0.0/0"],"ports":["22/tcp","53/udp","60000-61000/udp","8000-8080/tcp","443/any",' +
      '"1-2/any","icmp","icmp/8","tcp","udp","*/tcp","*/udp","*/any","*"]}]}'
    const r = parseAcl(text)
    assert.ok(r.ok, JSON.stringify(r))
    const rule = r.acl.rules[0]
    assert.equal(r.acl.comment, 'guests')
    assert.equal(rule.comment, 'all')
    assert.deepEqual(
      rule.to.map((t) => t.kind),
      ['any', 'node', 'tag', 'cidr', 'cidr', 'cidr'],
    )
    assert.deepEqual(rule.to[3], { kind: 'cidr', base: 0x0a900307, prefix: 32, text: '10.144.3.7' })
    assert.deepEqual(rule.to[4], { kind: 'cidr', base: 0x0a000000, prefix: 8, text: '10.0.0.0/8' })
    assert.deepEqual(
      rule.ports.map((p) => [p.proto, p.lo, p.hi]),
      [
        ['tcp', 22, 22],
        ['udp', 53, 53],
        ['udp', 60000, 61000],
        ['tcp', 8000, 8080],
        ['tcp+udp', 443, 443],
        ['tcp+udp', 1, 2],
        ['icmp', 0, 255],
        ['icmp', 8, 8],
        ['tcp', 0, 65535],
        ['udp', 0, 65535],
        ['tcp', 0, 65535],
        ['udp', 0, 65535],
        ['tcp+udp', 0, 65535],
        ['any', 0, 65535],
      ],
    )
    assert.deepEqual(aclToFile(r.acl), JSON.parse(text.slice(1)))
  })

  it('empty rules: valid, denies everything', () => {
    const r = parseAcl('{"rules":[]}')
    assert.ok(r.ok)
    assert.equal(r.acl.rules.length, 0)
  })

  it('validateAcl on an object', () => {
    const r = validateAcl({ rules: [{ to: ['tag:ops'], ports: ['icmp'] }] })
    assert.ok(r.ok)
    assert.equal(r.acl.rules[0].to[0].kind, 'tag')
  })
})

describe('parseAcl rejects', () => {
  it('a misspelt protocol, with the brief message', () => {
    assert.deepEqual(errorsOf('{"rules":[{"to":["*"]},{"to":["node:server"],"ports":["22/tpc"]}]}'), [
      'rules[1].ports[0]: "22/tpc" is not a port: use N/tcp, N-M/udp, icmp or *',
    ])
  })

  it('an empty target list', () => {
    assert.deepEqual(errorsOf('{"rules":[{"to":[]}]}'), ['rules[0].to: must list at least one target'])
  })

  it('unknown fields, with their path', () => {
    rejects('{"rules":[],"rule":[]}', 'rule', 'unknown field')
    rejects('{"rules":[{"to":["*"],"port":["22/tcp"]}]}', 'rules[0].port', 'did you mean "ports"?')
    rejects(
      '{"rules":[{"to":["*"],"action":"accept"}]}',
      'rules[0].action',
      'a rule may only have to, ports, comment',
    )
    rejects('{"rules":[{"to":["*"],"a b":1}]}', 'rules[0]["a b"]', 'unknown field')
    rejects('{"rules":[{"to":["*"],"__proto__":{}}]}', 'rules[0].__proto__', 'unknown field')
  })

  it('malformed documents', () => {
    rejects('', '', 'empty')
    rejects('{"rules":[', '', 'not valid JSON')
    rejects('rules: []', '', 'YAML is not supported')
    rejects('[]', '', 'must be a JSON object')
    rejects('null', '', 'must be a JSON object')
    rejects('{}', 'rules', 'is required')
    rejects('{"rules":{}}', 'rules', 'must be an array of rules')
    rejects('{"rules":[],"comment":5}', 'comment', 'must be a string')
    rejects(
      `{"rules":[${Array(MAX_ACL_RULES + 1)
        .fill('{"to":["*"]}')
        .join(',')}]}`,
      'rules',
      'over the limit',
    )
  })

  it('malformed rules', () => {
    rejects('{"rules":[1]}', 'rules[0]', 'must be an object')
    rejects('{"rules":[{"ports":["22/tcp"]}]}', 'rules[0].to', 'is required')
    rejects('{"rules":[{"to":"node:server"}]}', 'rules[0].to', 'write ["node:server"]')
    rejects('{"rules":[{"to":["*"],"ports":[]}]}', 'rules[0].ports', 'must list at least one port')
    rejects('{"rules":[{"to":["*"],"ports":"22/tcp"}]}', 'rules[0].ports', 'must be an array of ports')
    rejects('{"rules":[{"to":["*"],"comment":["x"]}]}', 'rules[0].comment', 'must be a string')
    rejects('{"rules":[{"to":[7]}]}', 'rules[0].to[0]', 'must be a string')
  })

  it('bad targets', () => {
    rejects('{"rules":[{"to":["*","nod:server"]}]}', 'rules[0].to[1]', 'is not a target: use *, node:NAME')
    rejects('{"rules":[{"to":["node:"]}]}', 'rules[0].to[0]', 'names no node')
    rejects('{"rules":[{"to":["tag:a b"]}]}', 'rules[0].to[0]', 'not a valid tag name')
    rejects('{"rules":[{"to":["10.0.0.256"]}]}', 'rules[0].to[0]', 'is not a target')
    rejects('{"rules":[{"to":["010.0.0.1"]}]}', 'rules[0].to[0]', 'is not a target')
    rejects('{"rules":[{"to":["10.0.0.0/33"]}]}', 'rules[0].to[0]', 'use /0 to /32')
    rejects('{"rules":[{"to":["10.1.2.3/16"]}]}', 'rules[0].to[0]', 'write 10.1.0.0/16')
    rejects('{"rules":[{"to":[" node:x"]}]}', 'rules[0].to[0]', 'surrounding spaces')
    rejects('{"rules":[{"to":["NODE:x"]}]}', 'rules[0].to[0]', 'lowercase')
  })

  it('bad ports', () => {
    rejects('{"rules":[{"to":["*"],"ports":["22"]}]}', 'rules[0].ports[0]', 'say which protocol, like 22/tcp')
    rejects('{"rules":[{"to":["*"],"ports":["70000/tcp"]}]}', 'rules[0].ports[0]', 'out of range')
    rejects('{"rules":[{"to":["*"],"ports":["100-20/udp"]}]}', 'rules[0].ports[0]', 'write 20-100/udp')
    rejects('{"rules":[{"to":["*"],"ports":["icmp/256"]}]}', 'rules[0].ports[0]', 'icmp/0 to icmp/255')
    rejects('{"rules":[{"to":["*"],"ports":["22/TCP"]}]}', 'rules[0].ports[0]', 'lowercase')
    rejects('{"rules":[{"to":["*"],"ports":["ssh"]}]}', 'rules[0].ports[0]', 'is not a port')
    rejects('{"rules":[{"to":["*"],"ports":[null]}]}', 'rules[0].ports[0]', 'must be a string')
  })

  it('reports every issue at once, capped', () => {
    const many = { rules: Array.from({ length: 200 }, () => ({ to: ['bad'] })) }
    const r = validateAcl(many)
    assert.equal(r.ok, false)
    if (r.ok) return
    assert.equal(r.errors.length, 51)
    assert.match(r.errors[50].message, /stopped after 50 issues/)
  })
})

describe('fuzz', () => {
  const atoms: unknown[] = [
    '*',
    'node:server',
    'tag:web',
    '10.0.0.0/8',
    '1.2.3.4',
    '22/tcp',
    '1-2/udp',
    'icmp',
    'icmp/8',
    '',
    ':',
    '/',
    '-',
    'node:',
    '65536/tcp',
    '\u0000',
    '__proto__',
    'constructor',
    'toString',
    0,
    -1,
    1e308,
    Number.NaN,
    true,
    null,
    undefined,
    [],
    {},
  ]
  const keys = ['rules', 'to', 'ports', 'comment', 'rule', '__proto__', 'constructor', '']

  function rnd(n: number): number {
    return Math.floor(Math.random() * n)
  }

  function value(depth: number): unknown {
    const k = rnd(depth > 4 ? 3 : 8)
    switch (k) {
      case 0:
        return atoms[rnd(atoms.length)]
      case 1:
        return String.fromCharCode(...Array.from({ length: rnd(12) }, () => rnd(0x3000)))
      case 2:
        return rnd(70000) - 10
      case 3:
      case 4: {
        const o: Record<string, unknown> = {}
        for (let i = rnd(4); i > 0; i--) o[keys[rnd(keys.length)]] = value(depth + 1)
        return o
      }
      case 5:
        return Object.create(null)
      default:
        return Array.from({ length: rnd(4) }, () => value(depth + 1))
    }
  }

  function aclish(): unknown {
    return {
      rules: Array.from({ length: rnd(4) }, () => {
        const rule: Record<string, unknown> = { to: Array.from({ length: rnd(3) }, () => value(3)) }
        if (rnd(2) === 0) rule.ports = Array.from({ length: rnd(3) }, () => value(3))
        if (rnd(4) === 0) rule[keys[rnd(keys.length)]] = value(3)
        return rule
      }),
    }
  }

  function mutate(text: string): string {
    const chars = text.split('')
    for (let i = rnd(4); i > 0; i--) {
      const at = rnd(chars.length + 1)
      const op = rnd(3)
      if (op === 0) chars.splice(at, 1)
      else if (op === 1) chars.splice(at, 0, '{}[]",:*/-0 \\'[rnd(14)])
      else chars[at] = String.fromCharCode(rnd(128))
    }
    return chars.join('')
  }

  it('exotic objects are reported, not thrown', () => {
    const evil = {
      get rules(): unknown {
        throw new Error('boom')
      },
    }
    const r = validateAcl(evil)
    assert.equal(r.ok, false)
    if (!r.ok) assert.match(r.errors[0].message, /could not be read \(boom\)/)
  })

  it('100000 random inputs never throw', () => {
    let ok = 0
    for (let i = 0; i < 100_000; i++) {
      const obj = rnd(2) === 0 ? aclish() : value(0)
      const r1 = validateAcl(obj)
      let text: string
      try {
        text = JSON.stringify(obj) ?? 'undefined'
      } catch {
        text = '{'
      }
      const r2 = parseAcl(rnd(2) === 0 ? mutate(text) : text)
      for (const r of [r1, r2]) {
        if (r.ok) ok++
        else {
          assert.ok(r.errors.length > 0)
          for (const e of r.errors) assert.equal(typeof e.message, 'string')
        }
      }
    }
    assert.ok(ok > 0, 'some inputs should be valid')
  })
})
