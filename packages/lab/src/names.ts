import { MAX_IFNAME_LENGTH, MAX_NAME_LENGTH, MAX_PREFIX_LENGTH } from './constants.ts'
import { LabNameError } from './errors.ts'

const PREFIX_RE = /^[a-z][a-z0-9]*$/
const NAME_RE = /^[a-z0-9][a-z0-9_-]*$/

/** Throws LabNameError unless `prefix` is 1-6 chars of [a-z0-9], starting with a letter. */
export function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new LabNameError(`lab prefix ${JSON.stringify(prefix)} must be [a-z][a-z0-9]*; pick e.g. 'nat1'`)
  }
  if (prefix.length > MAX_PREFIX_LENGTH) {
    throw new LabNameError(
      `lab prefix ${JSON.stringify(prefix)} is longer than ${MAX_PREFIX_LENGTH} chars; ` +
        'interface names must stay within 15 chars, pick a shorter prefix',
    )
  }
}

/** Throws LabNameError unless `name` (segment/host/router) is 1-24 chars of [a-z0-9_-]. */
export function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > MAX_NAME_LENGTH) {
    throw new LabNameError(
      `${kind} name ${JSON.stringify(name)} must be 1-${MAX_NAME_LENGTH} chars of [a-z0-9_-], ` +
        'starting with a letter or digit',
    )
  }
}

/** The switch namespace of a lab: holds one bridge per segment. */
export function switchNamespace(prefix: string): string {
  return `${prefix}sw`
}

/** The namespace of a host or router named `name`. */
export function hostNamespace(prefix: string, name: string): string {
  return `${prefix}-${name}`
}

/** True when `ns` is a namespace this lab prefix creates (exact scheme, so prefix 'ab' never matches 'abc*'). */
export function isLabNamespace(prefix: string, ns: string): boolean {
  if (ns === switchNamespace(prefix)) return true
  const head = `${prefix}-`
  return ns.startsWith(head) && NAME_RE.test(ns.slice(head.length))
}

/** Interface name, checked against the 15-char kernel limit. */
export function ifname(prefix: string, tag: string, n: number): string {
  const name = `${prefix}${tag}${n}`
  if (name.length > MAX_IFNAME_LENGTH) {
    throw new LabNameError(
      `interface name ${name} is longer than ${MAX_IFNAME_LENGTH} chars; use a shorter prefix`,
    )
  }
  return name
}
