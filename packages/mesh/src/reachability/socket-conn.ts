/**
 * A connected TCP socket (from the hole-punch dialer) as a libp2p MultiaddrConnection, so the
 * upgrader can run Noise and Yamux over it with the roles we chose. Mirrors what @libp2p/tcp does
 * for its own sockets (that helper is not exported).
 */
import type { Socket } from 'node:net'
import type { AbortOptions, Logger, MessageStreamDirection } from '@libp2p/interface'
import { AbstractMultiaddrConnection, ipPortToMultiaddr } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

function uncork(socket: Socket): void {
  if (socket.writableCorked > 0) socket.uncork()
}

class SocketConnection extends AbstractMultiaddrConnection {
  private readonly socket: Socket

  constructor(socket: Socket, direction: MessageStreamDirection, log: Logger) {
    if (socket.remoteAddress == null || socket.remotePort == null) throw new Error('socket is not connected')
    super({ remoteAddr: ipPortToMultiaddr(socket.remoteAddress, socket.remotePort), direction, log })
    this.socket = socket
    socket.setNoDelay(true)
    socket.setKeepAlive(true)
    socket.on('data', (buf) => this.onData(buf))
    socket.on('error', (err) => this.abort(err))
    socket.once('end', () => this.onTransportClosed())
    socket.once('close', (hadError) => {
      if (hadError) this.abort(new Error('TCP transmission error'))
      else this.onTransportClosed()
    })
    socket.on('drain', () => this.safeDispatchEvent('drain'))
    // a socket someone peeked at ('readable') stays paused with a 'data' listener: flow now, the
    // peeked bytes first
    socket.resume()
  }

  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean } {
    // each buffer of a message (Noise: length, ciphertext, tag) was its own write syscall and, with
    // noDelay, often its own TCP segment; corked until the end of this tick they leave as one
    // writev (the same patch is applied to @libp2p/tcp: docs/nat.md "Relayed throughput")
    if (this.socket.writableCorked === 0) {
      this.socket.cork()
      process.nextTick(uncork, this.socket)
    }
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose(_options?: AbortOptions): Promise<void> {
    if (this.socket.destroyed) return
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve())
      this.socket.destroySoon()
    })
  }

  sendReset(): void {
    if (this.socket.writableEnded) this.socket.destroy()
    else this.socket.resetAndDestroy()
  }

  sendPause(): void {
    this.socket.pause()
  }

  sendResume(): void {
    this.socket.resume()
  }
}

export function socketToConnection(socket: Socket, direction: MessageStreamDirection, log: Logger) {
  return new SocketConnection(socket, direction, log)
}
