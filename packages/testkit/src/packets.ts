/**
 * Minimal IPv4 packets for tests: a 20-byte header (checksum left 0: nothing here checks it) and the
 * L4 bytes given. Addresses are uint32s.
 */

/** An IPv4 packet of protocol `proto` from `src` to `dst` carrying `l4`. */
export function ipPacket(proto: number, src: number, dst: number, l4: ArrayLike<number>): Uint8Array {
  const b = new Uint8Array(20 + l4.length)
  b[0] = 0x45
  b[2] = b.length >> 8
  b[3] = b.length & 0xff
  b[8] = 64
  b[9] = proto
  const v = new DataView(b.buffer)
  v.setUint32(12, src)
  v.setUint32(16, dst)
  b.set(l4, 20)
  return b
}

/** Source and destination ports followed by `pad` zero bytes (the rest of a TCP or UDP header). */
function ports(s: number, d: number, pad: number): number[] {
  return [s >> 8, s & 255, d >> 8, d & 255, ...new Array(pad).fill(0)]
}

export const tcpPacket = (src: number, dst: number, s: number, d: number): Uint8Array =>
  ipPacket(6, src, dst, ports(s, d, 16))
export const udpPacket = (src: number, dst: number, s: number, d: number): Uint8Array =>
  ipPacket(17, src, dst, ports(s, d, 4))
/** An ICMP echo request (type 8) or reply (type 0) with identifier `id`. */
export const echoPacket = (src: number, dst: number, type: number, id: number): Uint8Array =>
  ipPacket(1, src, dst, [type, 0, 0, 0, id >> 8, id & 255, 0, 1])
