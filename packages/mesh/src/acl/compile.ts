/**
 * Compiles a validated ACL into flat typed arrays that answer "may this key reach dst/proto/port?"
 * without allocating: a linear scan over (base, mask, rule) network entries, each pointing at its rule's
 * (proto, lo, hi) port entries.
 */
import type { PacketHeader } from '@meshlan/wire'
import { DEFAULT_ACL_KEY_NAME, ICMP_ECHO_REQUEST, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from './constants.ts'
import { formatIpv4, prefixMask } from './ip.ts'
import type { Acl, AclPortProto } from './schema.ts'

/** Resolves the names an ACL mentions. Called only while compiling. */
export interface AclContext {
  /** Mesh address (uint32) of the node called `name`, or undefined if it is not known (yet). */
  nodeIp(name: string): number | undefined
  /** Mesh addresses (uint32) of every node carrying `tag`; empty if none. */
  tagIps(tag: string): readonly number[]
  /**
   * Name of the key this ACL belongs to, used in `explain()` texts.
   * @default 'unnamed'
   */
  keyName?: string
  /**
   * The overlay subnet. The `internet` target excludes it; without it `internet` resolves to
   * nothing (listed in `unresolved`), so an unknown subnet never lets `internet` reach members.
   */
  overlay?: { base: number; prefix: number }
  /** Every approved route of the network (any router): the `internet` target excludes them too. */
  routes?: ReadonlyArray<{ base: number; prefix: number }>
}

/** An ACL ready for enforcement. Every method except the `explain*()` ones is allocation-free. */
export interface CompiledAcl {
  /** Name of the key, for messages. */
  readonly keyName: string
  /** Number of rules in the source ACL. */
  readonly ruleCount: number
  /** Number of (network, rule) entries after resolving names. */
  readonly entryCount: number
  /** True when some rule allows every protocol and port to `*` (an admin key). */
  readonly allowsAll: boolean
  /** `node:NAME` / `tag:NAME` targets that resolved to no address (they match nothing until recompiled). */
  readonly unresolved: readonly string[]
  /** Node names the ACL mentions: recompile when one of them joins, leaves or changes address. */
  readonly nodes: readonly string[]
  /** Tags the ACL mentions: recompile when their membership changes. */
  readonly tags: readonly string[]
  /**
   * Index of the first rule allowing the packet as a new flow, or -1. Reads `dst`, `proto`, `dport`
   * (ignored for icmp) and `icmpType` (matters only for `icmp/N` entries). Stateless: replies and
   * ICMP errors are the packet filter's business.
   */
  match(h: PacketHeader): number
  /** Whether some rule allows the packet. */
  allows(h: PacketHeader): boolean
  /** Whether some rule allows anything at all to `dstIp` (the stream-open check). */
  reachesAnything(dstIp: number): boolean
  /**
   * Whether some rule allows anything inside `base/prefix` (the stream-open check for a router's
   * approved routes). `internet` entries never count: they exclude every approved route.
   */
  reachesPrefix(base: number, prefix: number): boolean
  /**
   * Whether some rule allows anything on the internet (`*`, `internet`, or a CIDR reaching outside
   * the overlay and the approved routes): the stream-open check for an exit node.
   */
  readonly reachesInternet: boolean
  /** Says which rule allows the packet, or that none does. Allocates: for logs. */
  explain(h: PacketHeader): string
  /** Whether some rule allows an ICMP echo request to `dstIp` (`meshlan ping`, which has no packet). */
  allowsIcmpEcho(dstIp: number): boolean
  /** `explain()` for an ICMP echo request to `dstIp`. Allocates. */
  explainIcmpEcho(dstIp: number): string
}

/** Encoded protocols of port entries. */
const P_ANY = 0
const P_TCP_UDP = 256

function encodeProto(p: AclPortProto): number {
  switch (p) {
    case 'any':
      return P_ANY
    case 'icmp':
      return PROTO_ICMP
    case 'tcp':
      return PROTO_TCP
    case 'udp':
      return PROTO_UDP
    default:
      return P_TCP_UDP
  }
}

/** An ACL allowing everything (the owner's implicit key); ALLOW_ALL_ACL is its file form. */
export function allowAllAcl(): Acl {
  return {
    rules: [{ to: [{ kind: 'any', text: '*' }], ports: [{ proto: 'any', lo: 0, hi: 65535, text: '*' }] }],
  }
}

/** An ACL allowing nothing. */
export function denyAllAcl(): Acl {
  return { rules: [] }
}

function toUint32(v: unknown): number | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) return undefined
  return v >>> 0
}

/** Compiles a validated ACL, resolving `node:` and `tag:` targets through `ctx`. */
export function compileAcl(acl: Acl, ctx: AclContext): CompiledAcl {
  const keyName = ctx.keyName ?? DEFAULT_ACL_KEY_NAME
  const ruleCount = acl.rules.length
  const bases: number[] = []
  const masks: number[] = []
  const netRules: number[] = []
  const netInternets: number[] = []
  // what `internet` excludes: the overlay subnet first, then every approved route
  const exclBases: number[] = []
  const exclMasks: number[] = []
  if (ctx.overlay != null) {
    const m = prefixMask(ctx.overlay.prefix)
    exclBases.push((ctx.overlay.base & m) >>> 0)
    exclMasks.push(m)
    for (const r of ctx.routes ?? []) {
      const rm = prefixMask(r.prefix)
      exclBases.push((r.base & rm) >>> 0)
      exclMasks.push(rm)
    }
  }
  let reachesInternet = false
  const portStart = new Int32Array(ruleCount + 1)
  const protos: number[] = []
  const los: number[] = []
  const his: number[] = []
  const unresolved: string[] = []
  const nodes = new Set<string>()
  const tags = new Set<string>()
  let allowsAll = false

  for (let r = 0; r < ruleCount; r++) {
    const rule = acl.rules[r]
    portStart[r] = protos.length
    let anyPort = false
    for (const p of rule.ports) {
      const proto = encodeProto(p.proto)
      if (proto === P_ANY) anyPort = true
      protos.push(proto)
      // icmp covering every type also matches packets whose type is not given (-1)
      los.push(proto === PROTO_ICMP && p.lo === 0 && p.hi === 255 ? -1 : p.lo)
      his.push(p.hi)
    }
    const addNet = (base: number, mask: number, internet = 0) => {
      bases.push(base)
      masks.push(mask)
      netRules.push(r)
      netInternets.push(internet)
    }
    for (const t of rule.to) {
      switch (t.kind) {
        case 'any':
          addNet(0, 0)
          reachesInternet = true
          if (anyPort) allowsAll = true
          break
        case 'internet':
          if (exclBases.length === 0) {
            unresolved.push(t.text)
          } else {
            addNet(0, 0, 1)
            reachesInternet = true
          }
          break
        case 'cidr': {
          const mask = prefixMask(t.prefix)
          const base = (t.base & mask) >>> 0
          addNet(base, mask)
          if (!coveredBy(base, mask, exclBases, exclMasks)) reachesInternet = true
          if (anyPort && t.prefix === 0) allowsAll = true
          break
        }
        case 'node': {
          nodes.add(t.name)
          const ip = toUint32(ctx.nodeIp(t.name))
          if (ip === undefined) unresolved.push(t.text)
          else addNet(ip, 0xffffffff)
          break
        }
        case 'tag': {
          tags.add(t.name)
          const ips = ctx.tagIps(t.name)
          let added = 0
          for (const v of Array.isArray(ips) ? ips : []) {
            const ip = toUint32(v)
            if (ip === undefined) continue
            addNet(ip, 0xffffffff)
            added++
          }
          if (added === 0) unresolved.push(t.text)
          break
        }
      }
    }
  }
  portStart[ruleCount] = protos.length

  const n = bases.length
  const netBase = Uint32Array.from(bases)
  const netMask = Uint32Array.from(masks)
  const netRule = Int32Array.from(netRules)
  const netInternet = Uint8Array.from(netInternets)
  const exclBase = Uint32Array.from(exclBases)
  const exclMask = Uint32Array.from(exclMasks)
  const exclCount = exclBase.length

  /** Whether `dst` is inside the overlay or an approved route (where `internet` does not reach). */
  function excluded(dst: number): boolean {
    for (let i = 0; i < exclCount; i++) if ((dst & exclMask[i]) >>> 0 === exclBase[i]) return true
    return false
  }
  const portProto = Int32Array.from(protos)
  const portLo = Int32Array.from(los)
  const portHi = Int32Array.from(his)

  function matchFields(dstIp: number, proto: number, dstPort: number, t: number): number {
    const dst = dstIp >>> 0
    let failed = -1
    for (let i = 0; i < n; i++) {
      const r = netRule[i]
      if (r === failed) continue
      if ((dst & netMask[i]) >>> 0 !== netBase[i]) continue
      if (netInternet[i] === 1 && excluded(dst)) continue
      const end = portStart[r + 1]
      for (let p = portStart[r]; p < end; p++) {
        const pp = portProto[p]
        if (pp === P_ANY) return r
        if (proto === PROTO_ICMP) {
          if (pp === PROTO_ICMP && t >= portLo[p] && t <= portHi[p]) return r
        } else if (
          (pp === proto || (pp === P_TCP_UDP && (proto === PROTO_TCP || proto === PROTO_UDP))) &&
          dstPort >= portLo[p] &&
          dstPort <= portHi[p]
        ) {
          return r
        }
      }
      failed = r
    }
    return -1
  }

  function match(h: PacketHeader): number {
    return matchFields(h.dst, h.proto, h.dport, h.icmpType)
  }

  function allows(h: PacketHeader): boolean {
    return allowsAll || matchFields(h.dst, h.proto, h.dport, h.icmpType) >= 0
  }

  function reachesAnything(dstIp: number): boolean {
    if (allowsAll) return true
    const dst = dstIp >>> 0
    for (let i = 0; i < n; i++) {
      if ((dst & netMask[i]) >>> 0 === netBase[i] && !(netInternet[i] === 1 && excluded(dst))) return true
    }
    return false
  }

  function reachesPrefix(base: number, prefix: number): boolean {
    if (allowsAll) return true
    const mask = prefixMask(prefix)
    const b = (base & mask) >>> 0
    for (let i = 0; i < n; i++) {
      if (netInternet[i] === 1) continue
      // two prefixes overlap when they agree on the shorter one's mask
      const m = (netMask[i] & mask) >>> 0
      if ((b & m) >>> 0 === (netBase[i] & m) >>> 0) return true
    }
    return false
  }

  function explainFields(dstIp: number, proto: number, dstPort: number, icmpType: number): string {
    const what = describeFields(dstIp, proto, dstPort, icmpType)
    const r = matchFields(dstIp, proto, dstPort, icmpType)
    if (r >= 0) {
      const rule = acl.rules[r]
      const to = rule.to.map((t) => t.text).join(' ')
      const ports = rule.ports.map((p) => p.text).join(' ')
      const comment = rule.comment === undefined ? '' : `, ${JSON.stringify(rule.comment)}`
      return `rule ${r} of key ${keyName} (to ${to}, ports ${ports}${comment}) allows ${what}`
    }
    let why = ''
    if (ruleCount === 0) why = ' (the key has no rules: it denies everything)'
    else if (unresolved.length > 0) why = ` (not known yet, matching nothing: ${unresolved.join(', ')})`
    return `no rule of key ${keyName} allows ${what}${why}`
  }

  return {
    keyName,
    ruleCount,
    entryCount: n,
    allowsAll,
    unresolved,
    nodes: [...nodes],
    tags: [...tags],
    match,
    allows,
    reachesAnything,
    reachesPrefix,
    reachesInternet,
    explain: (h) => explainFields(h.dst, h.proto, h.dport, h.icmpType),
    allowsIcmpEcho: (dstIp) => allowsAll || matchFields(dstIp, PROTO_ICMP, 0, ICMP_ECHO_REQUEST) >= 0,
    explainIcmpEcho: (dstIp) => explainFields(dstIp, PROTO_ICMP, 0, ICMP_ECHO_REQUEST),
  }
}

/** `tcp port 22 to 10.144.3.7`, `icmp type 8 to 10.144.3.7`, `protocol 47 to 10.144.3.7`. */
export function describeTraffic(h: PacketHeader): string {
  return describeFields(h.dst, h.proto, h.dport, h.icmpType)
}

function describeFields(dstIp: number, proto: number, dstPort: number, icmpType: number): string {
  const ip = formatIpv4(dstIp)
  switch (proto) {
    case PROTO_TCP:
      return `tcp port ${dstPort} to ${ip}`
    case PROTO_UDP:
      return `udp port ${dstPort} to ${ip}`
    case PROTO_ICMP:
      return icmpType < 0 ? `icmp to ${ip}` : `icmp type ${icmpType} to ${ip}`
    default:
      return `protocol ${proto} to ${ip}`
  }
}

/** Whether the prefix (base, mask) lies wholly inside one of the given prefixes. */
function coveredBy(base: number, mask: number, bases: readonly number[], masks: readonly number[]): boolean {
  for (let i = 0; i < bases.length; i++) {
    // inside when it is at least as long and agrees on the outer prefix's mask
    if ((mask & masks[i]) >>> 0 === masks[i] && (base & masks[i]) >>> 0 === bases[i]) return true
  }
  return false
}
