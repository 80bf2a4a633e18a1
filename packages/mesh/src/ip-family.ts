/**
 * IPv4 or IPv6, and which IPv6 addresses are endpoints worth announcing: the underlay runs on both
 * families (issue 10), but only global unicast IPv6 ever leaves this node in a record, a join string
 * or a CONNECT. Link-local and ULA addresses mean nothing outside their link or site, and telling
 * them to the world leaks the home's layout.
 */
import { BlockList, isIP } from 'node:net'
import { IPV6_DOCUMENTATION, IPV6_GLOBAL_UNICAST } from './constants.ts'

export type IpFamily = 'ipv4' | 'ipv6'

/** The family of an IP literal, or null for anything else. */
export function ipFamily(ip: string): IpFamily | null {
  const v = isIP(ip)
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : null
}

function block(cidr: string): BlockList {
  const [net, bits] = cidr.split('/')
  const b = new BlockList()
  b.addSubnet(net, Number(bits), 'ipv6')
  return b
}

const GLOBAL = block(IPV6_GLOBAL_UNICAST)
const DOCUMENTATION = block(IPV6_DOCUMENTATION)

/** True for a global unicast IPv6 literal (2000::/3 without the documentation prefix). */
export function isGlobalIpv6(ip: string): boolean {
  return isIP(ip) === 6 && GLOBAL.check(ip, 'ipv6') && !DOCUMENTATION.check(ip, 'ipv6')
}

const IP6_ADDR = /^\/ip6\/([^/]+)(?:\/|$)/

/**
 * Whether a multiaddr may be announced (records, identify, join strings) as far as its family goes:
 * every non-IPv6 address (the IPv4 rules live elsewhere), and IPv6 only when global unicast.
 */
export function announceableFamily(addr: string): boolean {
  const v6 = IP6_ADDR.exec(addr)?.[1]
  return v6 == null || isGlobalIpv6(v6)
}

/** The IP family of a multiaddr's first component (`/ip4/…`, `/ip6/…`), or null (dns, circuits …). */
export function addrFamily(addr: string): IpFamily | null {
  return addr.startsWith('/ip4/') ? 'ipv4' : addr.startsWith('/ip6/') ? 'ipv6' : null
}

/** `/ip4/<ip>/tcp/<port>` or `/ip6/<ip>/tcp/<port>` for an IP literal of either family. */
export function tcpAddr(ip: string, port: number): string {
  return `/${ipFamily(ip) === 'ipv6' ? 'ip6' : 'ip4'}/${ip}/tcp/${port}`
}
