/**
 * The only place meshlan relies on dns2 servers beyond their type declarations. The sockets come
 * from dns2's public factories (`createUDPServer`, `createTCPServer`); two behaviours are not in
 * dns2's types, and test/dns2-contract.test.ts fails loudly when an upgrade changes either:
 * - A UDPServer parses datagrams in the 'message' listener its constructor installs. We remove that
 *   listener and install ours, so the rate limit runs before any parsing and garbage can be answered
 *   FORMERR (dns2 would only emit `requestError`, without the sender).
 * - `UDPServer.response()` takes `{ rinfo, maxPayload }` (typed as a bare RemoteInfo) and fits a
 *   Buffer into `maxPayload`: longer ones go out cut to size with TC=1, so the client retries on TCP.
 */
import type { RemoteInfo } from 'node:dgram'
import dns2 from 'dns2'

export type UdpMessageHandler = (data: Buffer, rinfo: RemoteInfo) => void

/** A dns2 UDP socket whose datagrams go to `onMessage` only (dns2's own parser is unhooked). */
export function createUdpServer(family: 'udp4' | 'udp6', onMessage: UdpMessageHandler): dns2.UDPServer {
  const udp = dns2.createUDPServer({ type: family })
  udp.removeAllListeners('message')
  udp.on('message', onMessage)
  return udp
}

/** Sends `out` to `rinfo`, cut to `maxPayload` bytes with TC=1 when it does not fit. */
export function sendUdp(
  udp: dns2.UDPServer,
  rinfo: RemoteInfo,
  out: Buffer,
  maxPayload: number,
): Promise<Buffer> {
  return udp.response({ rinfo, maxPayload } as unknown as RemoteInfo, out)
}

/** A dns2 TCP server (RFC 7766 framing, pipelining, idle timeout) calling `handler` per message. */
export function createTcpServer(handler: dns2.DnsHandler): dns2.TCPServer {
  return dns2.createTCPServer(handler)
}
