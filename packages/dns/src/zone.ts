/**
 * The `.mesh` zone and the overlay reverse zone as a pure function of a question and a NameSource:
 * no sockets, no dns2 packets. The resolver turns a `ZoneAnswer` into a response.
 */

import { type Cidr, cidrContains, ipToUint32 } from '@meshlan/wire'
import { MESH_DOMAIN } from './constants.ts'
import { reverseNameToIpv4 } from './reverse.ts'

/** Where the resolver learns names; the daemon wires it to the mesh node's status. */
export interface NameSource {
  /** Overlay IPv4 of the node with this (normalised, lower-case) name, or null. */
  lookupName(name: string): string | null
  /** Name (without `.mesh`) of the node holding this overlay IPv4, or null. */
  lookupIp(ip: string): string | null
  /** This node's own overlay IPv4 (the answer for the bare `mesh`), or null before it has one. */
  selfIp(): string | null
  /** The network's name (for `<name>.<network>.mesh`), or null. */
  networkName(): string | null
}

export const TYPE_A = 1
export const TYPE_SOA = 6
export const TYPE_PTR = 12
export const TYPE_ANY = 255
export const CLASS_IN = 1
export const CLASS_ANY = 255

export type ZoneAnswer =
  /** NOERROR with records: `data` is an IPv4 (A) or a domain name (PTR). */
  | { kind: 'answer'; type: typeof TYPE_A | typeof TYPE_PTR; data: string }
  /** NOERROR with the zone's SOA as the answer (an SOA query for the bare `mesh`). */
  | { kind: 'soa' }
  /** The name exists but has no record of the asked type. */
  | { kind: 'nodata'; zone: 'mesh' | 'reverse' }
  /** The name does not exist in a zone meshlan owns. */
  | { kind: 'nxdomain'; zone: 'mesh' | 'reverse' }
  /** A `.mesh` question of a class other than IN/ANY. */
  | { kind: 'refused' }
  /** Not meshlan's: forward it upstream. */
  | { kind: 'outside' }

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const MESH_SUFFIX = `.${MESH_DOMAIN}`

/** Lower-cases ASCII letters only (DNS case folding) and drops trailing dots. */
export function normaliseQueryName(name: string): string {
  let n = name
  while (n.endsWith('.')) n = n.slice(0, -1)
  return n.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

function wantsA(type: number): boolean {
  return type === TYPE_A || type === TYPE_ANY
}

function safeCall<T>(f: () => T): T | null {
  try {
    return f()
  } catch {
    return null
  }
}

/** The final name for a PTR answer: `<name>.mesh` (a name already ending in `.mesh` is kept). */
function ptrTarget(name: string): string {
  const n = normaliseQueryName(name)
  return n === MESH_DOMAIN || n.endsWith(MESH_SUFFIX) ? n : `${n}${MESH_SUFFIX}`
}

/**
 * Answers one question. `overlay`, when given, makes meshlan authoritative for every address in it
 * (unknown ones are NXDOMAIN); without it only addresses `lookupIp` knows are answered and the rest
 * are forwarded. A NameSource that throws or returns garbage is treated as "no such name".
 */
export function answerQuestion(
  rawName: string,
  type: number,
  cls: number,
  names: NameSource,
  overlay: Cidr | null,
): ZoneAnswer {
  const name = normaliseQueryName(rawName)
  const classOk = cls === CLASS_IN || cls === CLASS_ANY

  if (name === MESH_DOMAIN) {
    if (!classOk) return { kind: 'refused' }
    if (type === TYPE_SOA) return { kind: 'soa' }
    const self = safeCall(() => names.selfIp())
    if (wantsA(type) && typeof self === 'string' && ipToUint32(self) >= 0)
      return { kind: 'answer', type: TYPE_A, data: self }
    return { kind: 'nodata', zone: 'mesh' }
  }

  if (name.endsWith(MESH_SUFFIX)) {
    if (!classOk) return { kind: 'refused' }
    const labels = name.slice(0, -MESH_SUFFIX.length).split('.')
    for (const l of labels) if (!LABEL_RE.test(l)) return { kind: 'nxdomain', zone: 'mesh' }
    const rawNet = safeCall(() => names.networkName())
    const net = typeof rawNet === 'string' && rawNet !== '' ? normaliseQueryName(rawNet) : null
    let host: string
    if (labels.length === 1) host = labels[0]
    else if (labels.length === 2 && net != null && labels[1] === net) host = labels[0]
    else return { kind: 'nxdomain', zone: 'mesh' }
    const ip = safeCall(() => names.lookupName(host))
    if (typeof ip === 'string' && ipToUint32(ip) >= 0) {
      return wantsA(type) ? { kind: 'answer', type: TYPE_A, data: ip } : { kind: 'nodata', zone: 'mesh' }
    }
    // `<network>.mesh` exists as the parent of `<name>.<network>.mesh` (an empty non-terminal).
    if (labels.length === 1 && net != null && host === net) return { kind: 'nodata', zone: 'mesh' }
    return { kind: 'nxdomain', zone: 'mesh' }
  }

  const ip = reverseNameToIpv4(name)
  if (ip != null && classOk) {
    const owner = safeCall(() => names.lookupIp(ip))
    if (typeof owner === 'string' && owner !== '') {
      return type === TYPE_PTR || type === TYPE_ANY
        ? { kind: 'answer', type: TYPE_PTR, data: ptrTarget(owner) }
        : { kind: 'nodata', zone: 'reverse' }
    }
    if (overlay != null && cidrContains(overlay, ipToUint32(ip))) return { kind: 'nxdomain', zone: 'reverse' }
  }
  return { kind: 'outside' }
}
