/**
 * The admin API's listeners: `apply()` (re)binds them to what `[admin] listen` says (idempotent:
 * called at start, when the overlay address arrives and on reload), `stop()` closes them. Never
 * throws for an address: a refused or busy one is logged and the others serve.
 */
import { createServer, type Server } from 'node:http'
import { MAX_CONNECTIONS, MAX_HEADER_BYTES } from './constants.ts'
import { type AdminListen, adminBind, parseAdminListen } from './listen.ts'
import type { RequestHandler } from './router.ts'
import type { AdminLogger } from './types.ts'

export interface AdminListenSettings {
  listen: readonly string[]
  /** Allow addresses that are neither loopback nor the overlay address. */
  public: boolean
}

const keyOf = (a: { host: string; port: number }) =>
  `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`

export class AdminListeners {
  private readonly handler: RequestHandler
  private readonly log: AdminLogger
  private readonly servers = new Map<string, Server>()
  private work: Promise<void> = Promise.resolve()
  private readonly refused = new Set<string>()

  constructor(handler: RequestHandler, log: AdminLogger) {
    this.handler = handler
    this.log = log
  }

  /** The addresses served now (real ports when 0 was asked). */
  addresses(): Array<{ host: string; port: number }> {
    const out: Array<{ host: string; port: number }> = []
    for (const s of this.servers.values()) {
      const a = s.address()
      if (a != null && typeof a !== 'string') out.push({ host: a.address, port: a.port })
    }
    return out
  }

  apply(settings: AdminListenSettings, overlayIp: string | null): Promise<void> {
    this.work = this.work.then(() => this.doApply(settings, overlayIp))
    return this.work
  }

  stop(): Promise<void> {
    this.work = this.work.then(async () => {
      for (const k of [...this.servers.keys()]) await this.close(k)
    })
    return this.work
  }

  private async doApply(settings: AdminListenSettings, overlayIp: string | null): Promise<void> {
    const want = new Map<string, { host: string; port: number }>()
    for (const text of settings.listen) {
      const l: AdminListen | string = parseAdminListen(text)
      const b =
        typeof l === 'string' ? { refused: `${text}: ${l}` } : adminBind(l, settings.public, overlayIp)
      if (b == null) continue
      if ('refused' in b) {
        if (!this.refused.has(b.refused)) this.log.error('admin API not served there', { why: b.refused })
        this.refused.add(b.refused)
        continue
      }
      want.set(keyOf(b), b)
    }
    for (const k of [...this.servers.keys()]) if (!want.has(k)) await this.close(k)
    for (const [k, a] of want) if (!this.servers.has(k)) await this.open(k, a)
  }

  private async open(key: string, a: { host: string; port: number }): Promise<void> {
    const server = createServer(
      { requestTimeout: 10_000, headersTimeout: 5_000, maxHeaderSize: MAX_HEADER_BYTES },
      (req, res) => void this.handler(req, res),
    )
    server.maxConnections = MAX_CONNECTIONS
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: a.host, port: a.port }, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      this.log.error('admin API not served: cannot listen', { listen: key, error: e.code ?? e.message })
      return
    }
    server.on('error', (err) => this.log.warn('admin server error', { error: err.message }))
    this.servers.set(key, server)
    const bound = server.address()
    const port = bound != null && typeof bound !== 'string' ? bound.port : a.port
    this.log.info('serving the admin API', { url: `http://${keyOf({ host: a.host, port })}/api/` })
  }

  private async close(key: string): Promise<void> {
    const server = this.servers.get(key)
    this.servers.delete(key)
    if (server == null) return
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}
