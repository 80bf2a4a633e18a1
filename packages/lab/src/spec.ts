import { createLab, type Lab, type LabInit } from './lab.ts'

/**
 * A lab as JSON (for the CLI and the demo):
 * { "segments": [{ "name": "public", "cidr": "198.18.0.0/24" }],
 *   "routers": [{ "name": "r1", "wan": "public", "lan": "lan1", "symmetric": false, "filter": "drop" }],
 *   "hosts": [{ "name": "a", "segment": "lan1", "address": "198.18.1.10", "attach": [{ "segment": "x" }] }] }
 * Segments are built first, then routers, then hosts.
 */
export interface LabSpec {
  segments: Array<{ name: string; cidr: string; cidr6?: string }>
  routers?: Array<{
    name: string
    wan: string
    lan: string
    wanAddress?: string
    lanAddress?: string
    symmetric?: boolean
    /** Unsolicited inbound: 'drop' (default) or 'reject' (RST / ICMP port unreachable). */
    filter?: 'drop' | 'reject'
    /** IPv6 into the LAN (routed): 'drop', 'reject' or 'open'. @default filter */
    firewall6?: 'drop' | 'reject' | 'open'
  }>
  hosts?: Array<{
    name: string
    segment?: string
    address?: string
    attach?: Array<{ segment: string; address?: string }>
  }>
}

export type SpecResult = { ok: true; spec: LabSpec } | { ok: false; error: string }

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const isStr = (v: unknown): v is string => typeof v === 'string'
const optStr = (v: unknown) => v === undefined || isStr(v)

/** Checks the shape of a parsed JSON spec; bad input comes back as `{ ok: false, error }`. */
export function parseLabSpec(value: unknown): SpecResult {
  if (!isObj(value)) return { ok: false, error: 'spec must be a JSON object' }
  const { segments, routers = [], hosts = [] } = value
  if (!Array.isArray(segments)) return { ok: false, error: 'spec.segments must be an array' }
  for (const [i, s] of segments.entries()) {
    if (!isObj(s) || !isStr(s.name) || !isStr(s.cidr) || !optStr(s.cidr6)) {
      return { ok: false, error: `spec.segments[${i}] needs string name and cidr (cidr6 a string)` }
    }
  }
  if (!Array.isArray(routers)) return { ok: false, error: 'spec.routers must be an array' }
  for (const [i, r] of routers.entries()) {
    if (!isObj(r) || !isStr(r.name) || !isStr(r.wan) || !isStr(r.lan)) {
      return { ok: false, error: `spec.routers[${i}] needs string name, wan and lan` }
    }
    if (
      !optStr(r.wanAddress) ||
      !optStr(r.lanAddress) ||
      !(r.symmetric === undefined || typeof r.symmetric === 'boolean') ||
      !(r.filter === undefined || r.filter === 'drop' || r.filter === 'reject') ||
      !(r.firewall6 === undefined || ['drop', 'reject', 'open'].includes(r.firewall6 as string))
    ) {
      return {
        ok: false,
        error: `spec.routers[${i}]: wanAddress/lanAddress are strings, symmetric a boolean, filter 'drop' or 'reject', firewall6 'drop', 'reject' or 'open'`,
      }
    }
  }
  if (!Array.isArray(hosts)) return { ok: false, error: 'spec.hosts must be an array' }
  for (const [i, h] of hosts.entries()) {
    if (!isObj(h) || !isStr(h.name) || !optStr(h.segment) || !optStr(h.address)) {
      return { ok: false, error: `spec.hosts[${i}] needs a string name; segment and address are strings` }
    }
    if (h.attach !== undefined) {
      if (
        !Array.isArray(h.attach) ||
        !h.attach.every((a) => isObj(a) && isStr(a.segment) && optStr(a.address))
      ) {
        return { ok: false, error: `spec.hosts[${i}].attach must be an array of { segment, address? }` }
      }
    }
  }
  return { ok: true, spec: value as unknown as LabSpec }
}

/** Creates a lab and builds `spec` in it; on failure the half-built lab is torn down. */
export async function buildLab(spec: LabSpec, init: LabInit): Promise<Lab> {
  const lab = await createLab(init)
  try {
    for (const s of spec.segments) await lab.addSegment(s.name, { cidr: s.cidr, cidr6: s.cidr6 })
    for (const r of spec.routers ?? []) await lab.addNatRouter(r.name, r)
    for (const h of spec.hosts ?? []) {
      const host = await lab.addHost(h.name, { segment: h.segment, address: h.address })
      for (const a of h.attach ?? []) await host.attach(a.segment, a.address)
    }
    if (spec.segments.some((s) => s.cidr6 !== undefined)) await lab.routeIpv6()
  } catch (err) {
    await lab.teardown()
    throw err
  }
  return lab
}
