/**
 * The TUN device as the mesh's PacketDevice, plus the overlay address it carries. The address is
 * set (and changed) on the node's 'address' event; the old one is removed first.
 */
import type { Logger, PacketDevice } from '@meshlan/mesh'
import { openTun, type Tun } from '@meshlan/tun'
import { FRAME_HEADER_BYTES } from '@meshlan/wire'

export interface OverlayDevice extends PacketDevice {
  readonly name: string
  /** Sets the overlay address `ip/prefix`, replacing the previous one. */
  setAddress(ip: string, prefix: number): void
}

export interface OpenDeviceInit {
  name: string
  mtu: number
  /** Kernel offloads (virtio_net_hdr, checksum, TSO): TCP super-packets instead of MTU packets. */
  offload?: boolean
  log: Logger
}

export type OpenDevice = (init: OpenDeviceInit) => Promise<OverlayDevice>

/** Opens the TUN (throws TunPermissionError & co. with what to do next). */
export const openTunDevice: OpenDevice = async (init) => {
  const tun: Tun = openTun({
    name: init.name,
    mtu: init.mtu,
    headroom: FRAME_HEADER_BYTES,
    offload: init.offload === true,
  })
  let current: string | null = null
  tun.onError = (err) => init.log.error('tun read failed', { error: err.message })
  return {
    name: tun.name,
    headroom: FRAME_HEADER_BYTES,
    vnetHdr: tun.vnetHdr,
    start(onBatch) {
      tun.start((b) => onBatch(b.slab, b.offsets, b.lengths, b.count))
    },
    writeBatch: (slab, offsets, lengths, count, vnetHdr) =>
      tun.writeBatch(slab, offsets, lengths, count, vnetHdr),
    close: () => tun.close(),
    setAddress(ip, prefix) {
      const cidr = `${ip}/${prefix}`
      if (cidr === current || tun.closed) return
      if (current != null) {
        try {
          tun.removeAddress(current)
        } catch (err) {
          init.log.warn('removing old address failed', { cidr: current, error: (err as Error).message })
        }
      }
      tun.setAddress(cidr)
      current = cidr
      init.log.info('tun address', { dev: tun.name, cidr })
    },
  }
}
