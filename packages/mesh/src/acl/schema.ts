/**
 * The meshlan ACL file format (JSON) and its parser. docs/acl.md is the user-facing description.
 *
 * Bad input is a value: `parseAcl()` and `validateAcl()` never throw; they return every issue found
 * (up to MAX_ACL_ISSUES), each naming the rule and field (`rules[1].ports[0]`) and saying what to write.
 */
import {
  MAX_ACL_COMMENT_LENGTH,
  MAX_ACL_ISSUES,
  MAX_ACL_NAME_LENGTH,
  MAX_ACL_RULES,
  MAX_ACL_TEXT_LENGTH,
  MAX_RULE_PORTS,
  MAX_RULE_TARGETS,
} from './constants.ts'
import { formatIpv4, parseIpv4, prefixMask } from './ip.ts'

/** One rule as written in an ACL file. */
export interface AclFileRule {
  to: string[]
  ports?: string[]
  comment?: string
}

/** An ACL as written in a file: `{"rules":[{"to":["*"]}]}`. */
export interface AclFile {
  rules: AclFileRule[]
  comment?: string
}

/** A validated `to` entry. `text` is the entry as written. */
export type AclTarget =
  | { kind: 'any'; text: string }
  /** Any address outside the overlay subnet and every approved route: reached through an exit node. */
  | { kind: 'internet'; text: string }
  | { kind: 'node'; name: string; text: string }
  | { kind: 'tag'; name: string; text: string }
  /** An IPv4 address is a CIDR with prefix 32. `base` is a uint32 with no host bits set. */
  | { kind: 'cidr'; base: number; prefix: number; text: string }

/**
 * Protocol of a validated `ports` entry: `any` = every protocol and port (`*`); `tcp+udp` = `N/any`.
 */
export type AclPortProto = 'any' | 'tcp' | 'udp' | 'tcp+udp' | 'icmp'

/**
 * A validated `ports` entry. For tcp/udp/tcp+udp, `lo`–`hi` is the port range (inclusive); for icmp
 * it is the ICMP type range (0–255 for `icmp`); for any it is 0–65535 and means nothing.
 */
export interface AclPort {
  proto: AclPortProto
  lo: number
  hi: number
  text: string
}

/** A validated rule: traffic to any of `to` on any of `ports` is allowed. */
export interface AclRule {
  to: AclTarget[]
  ports: AclPort[]
  comment?: string
}

/** A validated ACL. No rules = deny everything. */
export interface Acl {
  rules: AclRule[]
  comment?: string
}

/**
 * One problem with an ACL. `path` locates it (`rules[1].ports[0]`, `''` for the whole document),
 * `problem` says what is wrong and what to do, `message` is `path: problem` ready to show.
 */
export interface AclIssue {
  path: string
  problem: string
  message: string
}

/** Outcome of `parseAcl()` / `validateAcl()`. */
export type AclResult = { ok: true; acl: Acl } | { ok: false; errors: AclIssue[] }

const TOP_FIELDS = ['rules', 'comment']
const RULE_FIELDS = ['to', 'ports', 'comment']
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const PORT_RE = /^(\d{1,6})(?:-(\d{1,6}))?\/([a-z]+)$/
const ICMP_TYPE_RE = /^icmp\/(\d{1,4})$/
const IDENT_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const QUOTE_MAX = 64

const TARGET_HELP = 'use *, node:NAME, tag:NAME, internet, an IPv4 address or a CIDR like 10.144.0.0/16'
const PORT_HELP = 'use N/tcp, N-M/udp, icmp or *'

/** Parses ACL JSON text. Never throws. */
export function parseAcl(text: string): AclResult {
  if (typeof text !== 'string') return fail('', 'ACL text must be a string')
  if (text.length > MAX_ACL_TEXT_LENGTH) {
    return fail(
      '',
      `ACL text is ${text.length} characters, over the limit of ${MAX_ACL_TEXT_LENGTH}: merge rules`,
    )
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (body.trim() === '') return fail('', 'ACL text is empty: write {"rules":[]} to deny everything')
  let obj: unknown
  try {
    obj = JSON.parse(body)
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    return fail('', `not valid JSON (${why}): fix the syntax (YAML is not supported)`)
  }
  return validateAcl(obj)
}

/** Validates an already-parsed ACL object (for example one embedded in a signed policy). Never throws. */
export function validateAcl(obj: unknown): AclResult {
  const issues = new Issues()
  let acl: Acl | undefined
  try {
    acl = readTop(obj, issues)
  } catch (err) {
    // only reachable with exotic objects (throwing getters, proxies), never with JSON.parse output
    const why = err instanceof Error ? err.message : String(err)
    return fail('', `the ACL object could not be read (${why}): pass plain JSON data`)
  }
  if (acl === undefined || issues.list.length > 0) return { ok: false, errors: issues.finish() }
  return { ok: true, acl }
}

/** Turns a validated ACL back into file form (each entry as originally written). */
export function aclToFile(acl: Acl): AclFile {
  const file: AclFile = {
    rules: acl.rules.map((r) => {
      const rule: AclFileRule = { to: r.to.map((t) => t.text), ports: r.ports.map((p) => p.text) }
      if (r.comment !== undefined) rule.comment = r.comment
      return rule
    }),
  }
  if (acl.comment !== undefined) file.comment = acl.comment
  return file
}

/** Formats issues one per line, as `meshlan` prints them. */
export function formatAclIssues(issues: readonly AclIssue[]): string {
  return issues.map((i) => i.message).join('\n')
}

/** Parses one `to` entry; returns the target or a problem text. Exposed for CLI completion and tests. */
export function parseAclTarget(text: string): AclTarget | string {
  if (text === '*') return { kind: 'any', text }
  if (text === 'internet') return { kind: 'internet', text }
  const colon = text.indexOf(':')
  if (colon >= 0) {
    const prefix = text.slice(0, colon)
    if (prefix === 'node' || prefix === 'tag') {
      const name = text.slice(colon + 1)
      if (name === '') return `${quote(text)} names no ${prefix}: write ${prefix}:NAME`
      if (name.length > MAX_ACL_NAME_LENGTH || !NAME_RE.test(name)) {
        return (
          `${quote(text)} is not a valid ${prefix} name: use up to ${MAX_ACL_NAME_LENGTH} letters, digits, ` +
          `'.', '_' and '-', starting with a letter or digit`
        )
      }
      return prefix === 'node' ? { kind: 'node', name, text } : { kind: 'tag', name, text }
    }
  }
  const slash = text.indexOf('/')
  const addr = parseIpv4(slash >= 0 ? text.slice(0, slash) : text)
  if (addr !== undefined) {
    if (slash < 0) return { kind: 'cidr', base: addr, prefix: 32, text }
    const p = text.slice(slash + 1)
    if (!/^\d{1,2}$/.test(p) || Number(p) > 32) {
      return `${quote(text)} has a bad prefix length ${quote(p)}: use /0 to /32`
    }
    const prefix = Number(p)
    const mask = prefixMask(prefix)
    const base = (addr & mask) >>> 0
    if (base !== addr) {
      return (
        `${quote(text)} has host bits set: write ${formatIpv4(base)}/${prefix} for the network ` +
        `or ${formatIpv4(addr)} for one address`
      )
    }
    return { kind: 'cidr', base, prefix, text }
  }
  const trimmed = text.trim()
  if (trimmed !== text && trimmed !== '' && typeof parseAclTarget(trimmed) !== 'string') {
    return `${quote(text)} has surrounding spaces: write ${quote(trimmed)}`
  }
  const lower = text.toLowerCase()
  if (lower !== text && typeof parseAclTarget(lower) !== 'string') {
    return `${quote(text)} is not a target: write the prefix in lowercase, like ${quote(lower)}`
  }
  return `${quote(text)} is not a target: ${TARGET_HELP}`
}

/** Parses one `ports` entry; returns the port spec or a problem text. */
export function parseAclPort(text: string): AclPort | string {
  switch (text) {
    case '*':
      return { proto: 'any', lo: 0, hi: 65535, text }
    case 'icmp':
      return { proto: 'icmp', lo: 0, hi: 255, text }
    case 'tcp':
    case '*/tcp':
      return { proto: 'tcp', lo: 0, hi: 65535, text }
    case 'udp':
    case '*/udp':
      return { proto: 'udp', lo: 0, hi: 65535, text }
    case '*/any':
      return { proto: 'tcp+udp', lo: 0, hi: 65535, text }
  }
  const icmp = ICMP_TYPE_RE.exec(text)
  if (icmp !== null) {
    const type = Number(icmp[1])
    if (type > 255) return `${quote(text)}: ICMP type ${type} is out of range: use icmp/0 to icmp/255`
    return { proto: 'icmp', lo: type, hi: type, text }
  }
  const m = PORT_RE.exec(text)
  if (m !== null && (m[3] === 'tcp' || m[3] === 'udp' || m[3] === 'any')) {
    const lo = Number(m[1])
    const hi = m[2] === undefined ? lo : Number(m[2])
    for (const n of [lo, hi]) {
      if (n > 65535) return `${quote(text)}: port ${n} is out of range: use 0 to 65535`
    }
    if (hi < lo) return `${quote(text)}: the range runs backwards: write ${hi}-${lo}/${m[3]}`
    const proto = m[3] === 'any' ? 'tcp+udp' : m[3]
    return { proto, lo, hi, text }
  }
  if (/^\d{1,5}(-\d{1,5})?$/.test(text)) {
    return `${quote(text)} is not a port: say which protocol, like ${text}/tcp, ${text}/udp or ${text}/any`
  }
  const trimmed = text.trim()
  if (trimmed !== text && trimmed !== '' && typeof parseAclPort(trimmed) !== 'string') {
    return `${quote(text)} has surrounding spaces: write ${quote(trimmed)}`
  }
  const lower = text.toLowerCase()
  if (lower !== text && typeof parseAclPort(lower) !== 'string') {
    return `${quote(text)} is not a port: write it in lowercase, like ${quote(lower)}`
  }
  return `${quote(text)} is not a port: ${PORT_HELP}`
}

function readTop(obj: unknown, issues: Issues): Acl | undefined {
  if (!isPlainObject(obj)) {
    issues.add('', `the ACL must be a JSON object like {"rules":[{"to":["*"]}]}, not ${describe(obj)}`)
    return undefined
  }
  checkFields(obj, TOP_FIELDS, '', issues)
  const comment = readComment(obj, '', issues)
  if (!Object.hasOwn(obj, 'rules')) {
    issues.add('rules', 'is required: list the rules, or write "rules": [] to deny everything')
    return undefined
  }
  const raw = obj.rules
  if (!Array.isArray(raw)) {
    issues.add('rules', `must be an array of rules like [{"to":["*"]}], not ${describe(raw)}`)
    return undefined
  }
  if (raw.length > MAX_ACL_RULES) {
    issues.add('rules', `has ${raw.length} rules, over the limit of ${MAX_ACL_RULES}: merge rules`)
    return undefined
  }
  const rules: AclRule[] = []
  for (let i = 0; i < raw.length && !issues.full(); i++) {
    const rule = readRule(raw[i], `rules[${i}]`, issues)
    if (rule !== undefined) rules.push(rule)
  }
  const acl: Acl = { rules }
  if (comment !== undefined) acl.comment = comment
  return acl
}

function readRule(obj: unknown, path: string, issues: Issues): AclRule | undefined {
  if (!isPlainObject(obj)) {
    issues.add(path, `must be an object like {"to":["node:server"],"ports":["22/tcp"]}, not ${describe(obj)}`)
    return undefined
  }
  const before = issues.count
  checkFields(obj, RULE_FIELDS, path, issues)
  const comment = readComment(obj, path, issues)
  const to = readList(obj, 'to', path, MAX_RULE_TARGETS, issues, parseAclTarget)
  const ports = Object.hasOwn(obj, 'ports')
    ? readList(obj, 'ports', path, MAX_RULE_PORTS, issues, parseAclPort)
    : [{ proto: 'any' as const, lo: 0, hi: 65535, text: '*' }]
  if (to === undefined || ports === undefined || issues.count !== before) return undefined
  const rule: AclRule = { to, ports }
  if (comment !== undefined) rule.comment = comment
  return rule
}

function readList<T>(
  obj: Record<string, unknown>,
  field: 'to' | 'ports',
  rulePath: string,
  max: number,
  issues: Issues,
  parse: (text: string) => T | string,
): T[] | undefined {
  const path = `${rulePath}.${field}`
  const example = field === 'to' ? '["node:server"]' : '["22/tcp"]'
  const what = field === 'to' ? 'target' : 'port'
  if (!Object.hasOwn(obj, field)) {
    issues.add(path, `is required: list the targets this rule allows, like ${example}`)
    return undefined
  }
  const raw = obj[field]
  if (!Array.isArray(raw)) {
    const hint = typeof raw === 'string' ? `write [${quote(raw)}]` : `like ${example}`
    issues.add(path, `must be an array of ${what}s, not ${describe(raw)}: ${hint}`)
    return undefined
  }
  if (raw.length === 0) {
    issues.add(
      path,
      field === 'to'
        ? 'must list at least one target'
        : 'must list at least one port: leave "ports" out to allow every port and protocol',
    )
    return undefined
  }
  if (raw.length > max) {
    issues.add(path, `has ${raw.length} entries, over the limit of ${max}: split the rule`)
    return undefined
  }
  const out: T[] = []
  for (let i = 0; i < raw.length; i++) {
    const item: unknown = raw[i]
    if (typeof item !== 'string') {
      issues.add(
        `${path}[${i}]`,
        `must be a string, not ${describe(item)}: ${field === 'to' ? TARGET_HELP : PORT_HELP}`,
      )
      continue
    }
    const parsed = parse(item)
    if (typeof parsed === 'string') issues.add(`${path}[${i}]`, parsed)
    else out.push(parsed)
  }
  return out
}

function readComment(obj: Record<string, unknown>, path: string, issues: Issues): string | undefined {
  if (!Object.hasOwn(obj, 'comment')) return undefined
  const c = obj.comment
  const at = path === '' ? 'comment' : `${path}.comment`
  if (typeof c !== 'string') {
    issues.add(at, `must be a string, not ${describe(c)}`)
    return undefined
  }
  if (c.length > MAX_ACL_COMMENT_LENGTH) {
    issues.add(at, `is ${c.length} characters, over the limit of ${MAX_ACL_COMMENT_LENGTH}: shorten it`)
    return undefined
  }
  return c
}

function checkFields(obj: Record<string, unknown>, allowed: string[], path: string, issues: Issues): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue
    const at = IDENT_RE.test(key) ? (path === '' ? key : `${path}.${key}`) : `${path}[${quote(key)}]`
    const near = allowed.find((a) => editDistance(a, key.toLowerCase()) <= 2)
    const where = path === '' ? 'the ACL' : 'a rule'
    const hint = near === undefined ? '' : ` (did you mean "${near}"?)`
    issues.add(at, `unknown field${hint}: ${where} may only have ${allowed.join(', ')}`)
  }
}

function fail(path: string, problem: string): AclResult {
  return { ok: false, errors: [issue(path, problem)] }
}

function issue(path: string, problem: string): AclIssue {
  return { path, problem, message: path === '' ? problem : `${path}: ${problem}` }
}

class Issues {
  readonly list: AclIssue[] = []
  count = 0

  add(path: string, problem: string): void {
    this.count++
    if (this.list.length < MAX_ACL_ISSUES) this.list.push(issue(path, problem))
  }

  full(): boolean {
    return this.count > MAX_ACL_ISSUES
  }

  finish(): AclIssue[] {
    if (this.count > this.list.length) {
      this.list.push(issue('', `stopped after ${this.list.length} issues: fix these and check again`))
    }
    return this.list
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  switch (typeof v) {
    case 'string':
      return `the string ${quote(v)}`
    case 'number':
    case 'boolean':
      return `${typeof v} ${String(v)}`
    case 'object':
      return 'an object'
    default:
      return typeof v
  }
}

/** JSON-quotes user text, cut to QUOTE_MAX characters so messages stay short. */
function quote(s: string): string {
  return JSON.stringify(s.length > QUOTE_MAX ? `${s.slice(0, QUOTE_MAX)}…` : s)
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || b.length > 32) return 3
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]
}
