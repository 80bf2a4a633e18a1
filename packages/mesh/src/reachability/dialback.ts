/**
 * "Dial me back" (`/meshlan/dialback/1.0.0`): how a node with relay = "auto" learns that it is
 * reachable from outside. It asks a member on a direct connection; the member opens a fresh TCP
 * connection (an ephemeral port, not the connection it has) to the address it sees us at, on the
 * listening port we name, and answers whether the SYN was accepted. Only a fresh connect proves an
 * unsolicited dial gets in: that is what a NATed member needs from a relay.
 *
 * Bounds (the asker is a member, but may be hostile): served on direct connections only; the
 * address dialled is always the IP the asker's connection comes from (never one it names, so it
 * can only make us dial itself); one dial-back per member per DIALBACK_RESPONDER_WINDOW_MS.
 *
 * Whom to believe: a member counts only when it is outside our network — it reaches us through a
 * NAT of its own (the address we see it at is not one it announces), or from a public address
 * that is not on one of our subnets — and only when the address it dialled is one we announce.
 *
 * Either family: over an IPv6 connection the member dials our IPv6 address back (a dual-stack
 * public node whose members happen to connect over IPv6 must still learn it is reachable). The
 * asker names the port of that family; an IPv6 member is "outside" when it is global unicast and
 * not on one of our own IPv6 prefixes.
 */
import { BlockList, isIP, Socket } from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { ipToUint32, parseCidr } from '@meshlan/wire'
import { isGlobalIpv6, tcpAddr } from '../ip-family.ts'
import { hostInterfaces } from '../overlay.ts'
import { PeerWindow } from './backoff.ts'
import { isLanIp } from './candidates.ts'
import {
  DIALBACK_ASK_TIMEOUT_MS,
  DIALBACK_DIAL_TIMEOUT_MS,
  DIALBACK_PROTOCOL,
  DIALBACK_RESPONDER_WINDOW_MS,
  MAX_DIALBACK_MESSAGE,
} from './constants.ts'
import { isRelayed } from './paths.ts'

export { DIALBACK_PROTOCOL } from './constants.ts'

/** What a dial-back found: whether the connect got in, and the address it aimed at. */
export interface DialBackAnswer {
  ok: boolean
  /** `/ip4/<ip>/tcp/<port>` or `/ip6/…`: where the member dialled (its view of us). */
  addr: string
  detail: string
}

/** A TCP connect from an ephemeral port: true when accepted (then closed at once). */
export type TcpProbe = (ip: string, port: number, timeoutMs: number) => Promise<true | string>

export const tcpProbe: TcpProbe = (ip, port, timeoutMs) =>
  new Promise((resolve) => {
    const s = new Socket()
    const done = (r: true | string) => {
      clearTimeout(timer)
      s.destroy()
      resolve(r)
    }
    const timer = setTimeout(() => done('no answer (dropped)'), timeoutMs)
    s.once('connect', () => done(true))
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message))
    s.connect({ host: ip, port })
  })

const encode = (text: string) => new TextEncoder().encode(text)
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const IP4 = /^\/ip4\/([\d.]+)\/tcp\/(\d+)/
/** A direct TCP address of either family: the IP and the port. */
const IP_TCP = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/

/** The responder: dial the asker back where we see it, on the port it names. Rate-limited. */
export class DialBackResponder {
  private readonly window = new PeerWindow(DIALBACK_RESPONDER_WINDOW_MS)
  private readonly probe: TcpProbe
  /** dial-backs served, and requests refused (relayed, too soon, bad request) */
  readonly counters = { served: 0, refused: 0 }

  constructor(probe: TcpProbe = tcpProbe) {
    this.probe = probe
  }

  async handle(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const seen = IP_TCP.exec(conn.remoteAddr.toString())
    if (isRelayed(conn) || seen == null || !this.window.admit(peer, Date.now())) {
      this.counters.refused++
      stream.abort(new Error('dial-back: direct connections only, one per member per 5 s'))
      return
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_DIALBACK_MESSAGE })
      const signal = AbortSignal.timeout(DIALBACK_ASK_TIMEOUT_MS)
      const port = Number(decode((await lp.read({ signal })).subarray()))
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        this.counters.refused++
        stream.abort(new Error('dial-back: the request is a port number'))
        return
      }
      const addr = tcpAddr(seen[1], port)
      const r = await this.probe(seen[1], port, DIALBACK_DIAL_TIMEOUT_MS)
      this.counters.served++
      await lp.write(encode(r === true ? `ok ${addr}` : `fail ${addr} ${r}`), { signal })
      await stream.close().catch(() => {})
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}

/** The asker: "dial me back on `port`"; null when the member could not be asked. */
export async function askDialBack(conn: Connection, port: number): Promise<DialBackAnswer | null> {
  try {
    const signal = AbortSignal.timeout(DIALBACK_ASK_TIMEOUT_MS)
    const stream = await conn.newStream(DIALBACK_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_DIALBACK_MESSAGE })
    await lp.write(encode(String(port)), { signal })
    const text = decode((await lp.read({ signal })).subarray())
    await stream.close().catch(() => {})
    const m = /^(ok|fail) (\S+)(?: (.*))?$/.exec(text)
    if (m == null || IP_TCP.exec(m[2]) == null) return null
    return { ok: m[1] === 'ok', addr: m[2], detail: m[3] ?? '' }
  } catch {
    return null
  }
}

/** The IP (either family) a direct connection comes from, or null (relayed, not TCP/IP). */
export function remoteIp(conn: Connection): string | null {
  return isRelayed(conn) ? null : (IP_TCP.exec(conn.remoteAddr.toString())?.[1] ?? null)
}

/**
 * A test for "on one of this host's own IPv4 subnets" (a neighbour, not "outside"), reading the
 * interfaces once: a caller checking every connection makes one of these, not one read per
 * connection (an idle relay = "auto" node asks every second; issue 14's idle profile).
 */
export function ourSubnets(): (ip: string) => boolean {
  const nets: Array<{ base: number; mask: number }> = []
  const nets6 = new BlockList()
  for (const i of hostInterfaces()) {
    if (i.internal || i.cidr == null) continue
    if (i.family === 'IPv6') {
      const [net, bits] = i.cidr.split('/')
      nets6.addSubnet(net, Number(bits), 'ipv6')
      continue
    }
    const c = parseCidr(i.cidr)
    if (c.ok) nets.push({ base: c.base, mask: c.mask })
  }
  return (ip) => {
    if (isIP(ip) === 6) return nets6.check(ip, 'ipv6')
    const n = ipToUint32(ip)
    return n >= 0 && nets.some((c) => (n & c.mask) >>> 0 === c.base)
  }
}

/** Whether `ip` is on one of this host's own IPv4 subnets (a neighbour, not "outside"). */
export function onOurSubnets(ip: string): boolean {
  return ourSubnets()(ip)
}

/**
 * Whether a member's dial-back says anything about "outside": it reaches us through a NAT of its
 * own (we see it at an address it does not announce), or from a public address that is not on
 * one of our subnets.
 */
export function outsideMember(
  seenFrom: string,
  memberAddrs: string[],
  neighbour: (ip: string) => boolean = onOurSubnets,
): boolean {
  // IPv6 has no NAT: outside means a global address on none of our prefixes
  if (isIP(seenFrom) === 6) return isGlobalIpv6(seenFrom) && !neighbour(seenFrom)
  if (isIP(seenFrom) !== 4) return false
  const own = new Set(memberAddrs.map((a) => IP4.exec(a)?.[1]).filter((x) => x != null))
  if (own.size > 0 && !own.has(seenFrom)) return true
  return !isLanIp(seenFrom) && !seenFrom.startsWith('127.') && !neighbour(seenFrom)
}
