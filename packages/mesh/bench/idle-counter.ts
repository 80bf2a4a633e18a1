/**
 * Counts what a node sends on each of its connections, for the idle-cost benchmark (idle.ts).
 *
 * Two layers of one libp2p connection are hooked, both by wrapping instance methods of objects
 * libp2p 3.3.11 keeps on the connection (`conn.maConn`, `conn.muxer`; not in the typed interface,
 * so they are checked at run time and a connection without them is reported as unhooked):
 *  - the raw connection (`maConn.send`): what the transport carries, i.e. Noise ciphertext with
 *    its 2-byte length prefixes and 16-byte tags — measured, not estimated;
 *  - the yamux muxer (`muxer.sendFrame`): every frame, its 12-byte header and payload, by stream,
 *    and so by protocol (the stream's negotiated protocol; stream 0 is the session's keepalive
 *    pings and go-away).
 * Only what a node sends is counted: in one process every receiver is another hooked node, so a
 * node's received bytes are the others' sent bytes addressed to it.
 */

/** A yamux frame header as `sendFrame` receives it (@libp2p/yamux 8 frame.d.ts). */
interface FrameHeader {
  type: number
  flag: number
  streamID: number
  length: number
}

interface YamuxLike {
  sendFrame(header: FrameHeader, data?: { byteLength: number }): boolean
  streams: Array<{ streamId: number; protocol?: string }>
}

interface MaConnLike {
  send(data: { byteLength: number }): boolean
}

/** yamux frame types (@libp2p/yamux frame.js). */
const FRAME_DATA = 0
const FRAME_WINDOW_UPDATE = 1
const FRAME_PING = 2

export interface Tally {
  frames: number
  /** Frame bytes: 12-byte header + payload. */
  bytes: number
  /** Frames without payload (window updates carrying SYN/ACK/FIN/RST or credit). */
  controlFrames: number
}

/** What one node sent to one remote peer: by protocol, and raw (Noise) bytes and messages. */
export interface LinkCounts {
  from: string
  to: string
  byProtocol: Map<string, Tally>
  raw: { messages: number; bytes: number }
}

const SESSION = 'yamux session (keepalive ping, go-away)'

function merge(into: Tally, t: Tally): Tally {
  into.frames += t.frames
  into.bytes += t.bytes
  into.controlFrames += t.controlFrames
  return into
}

function add(m: Map<string, Tally>, key: string, t: Tally): void {
  m.set(key, merge(m.get(key) ?? { frames: 0, bytes: 0, controlFrames: 0 }, t))
}

export class IdleCounter {
  readonly links: LinkCounts[] = []
  unhooked = 0
  private hooked = new WeakSet<object>()

  /** Hooks one connection of node `self` (idempotent). Relayed connections are skipped: their
   * bytes already travel inside the relay's hop stream on a direct connection. */
  hook(self: string, conn: unknown): void {
    const c = conn as { maConn?: MaConnLike; muxer?: YamuxLike; remotePeer: { toString(): string } } & {
      remoteAddr: { toString(): string }
    }
    if (this.hooked.has(c)) return
    this.hooked.add(c)
    if (c.remoteAddr.toString().includes('/p2p-circuit')) return
    if (typeof c.maConn?.send !== 'function' || typeof c.muxer?.sendFrame !== 'function') {
      this.unhooked++
      return
    }
    const link: LinkCounts = {
      from: self,
      to: c.remotePeer.toString(),
      byProtocol: new Map(),
      raw: { messages: 0, bytes: 0 },
    }
    this.links.push(link)
    const maConn = c.maConn
    const rawSend = maConn.send.bind(maConn)
    maConn.send = (data) => {
      link.raw.messages++
      link.raw.bytes += data.byteLength
      return rawSend(data)
    }
    const muxer = c.muxer
    const sendFrame = muxer.sendFrame.bind(muxer)
    // a stream's protocol is known only once negotiated: the frames before that (the SYN, the
    // multistream-select lines) wait per stream id and go to the protocol once it is known
    const protocols = new Map<number, string>()
    const pending = new Map<number, Tally>()
    muxer.sendFrame = (header, data) => {
      const payload = header.type === FRAME_DATA ? (data?.byteLength ?? 0) : 0
      const frame: Tally = {
        frames: 1,
        bytes: 12 + payload,
        controlFrames:
          header.type === FRAME_WINDOW_UPDATE || header.type === FRAME_PING || payload === 0 ? 1 : 0,
      }
      if (header.streamID === 0) {
        add(link.byProtocol, SESSION, frame)
      } else {
        const id = header.streamID
        const proto = protocols.get(id) ?? muxer.streams.find((s) => s.streamId === id)?.protocol
        if (proto == null || proto === '') {
          const p = pending.get(id) ?? { frames: 0, bytes: 0, controlFrames: 0 }
          pending.set(id, merge(p, frame))
        } else {
          protocols.set(id, proto)
          add(link.byProtocol, proto, frame)
          const p = pending.get(id)
          if (p != null) add(link.byProtocol, proto, p)
          pending.delete(id)
        }
      }
      return sendFrame(header, data)
    }
  }

  /** Zeroes every counter (the start of the measurement window). */
  reset(): void {
    for (const l of this.links) {
      l.byProtocol.clear()
      l.raw.messages = 0
      l.raw.bytes = 0
    }
  }
}
