/**
 * GET /api/events: the live views' feed (server-sent events). Every EVENTS_POLL_MS the server
 * takes the node's status and route list and sends them as one `topology` event when they
 * changed, so a node joining, leaving or changing path shows within a second without the page
 * polling. The stream ends when the session does (checked without counting as activity).
 */
import { EVENTS_KEEPALIVE_MS, EVENTS_POLL_MS, MAX_EVENT_STREAMS } from './constants.ts'
import type { Guards, RequestContext } from './context.ts'
import { TooManyStreamsError } from './errors.ts'

/** Open streams per API (per handler's deps: a test process may run several daemons' APIs). */
const openStreams = new WeakMap<object, number>()

/** status + routes, as the topology and members pages draw them (routes: null off the owner). */
async function snapshot(g: Guards): Promise<string> {
  const status = await g.deps.status()
  const routes = await g.deps.controller.routeList({}).catch(() => null)
  return JSON.stringify({ status, routes })
}

export async function events(g: Guards, c: RequestContext): Promise<void> {
  const open = openStreams.get(g.deps) ?? 0
  if (open >= MAX_EVENT_STREAMS) throw new TooManyStreamsError(MAX_EVENT_STREAMS)
  const s = c.session
  if (s == null) return
  openStreams.set(g.deps, open + 1)
  c.res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // a reverse proxy must pass each event on at once
    'X-Accel-Buffering': 'no',
  })
  let last = ''
  let lastWrite = Date.now()
  let busy = false
  const tick = async () => {
    if (busy) return
    busy = true
    try {
      if (!g.deps.sessions.alive(s)) return close()
      const snap = await snapshot(g)
      if (snap !== last) {
        c.res.write(`event: topology\ndata: ${snap}\n\n`)
        last = snap
        lastWrite = Date.now()
      } else if (Date.now() - lastWrite >= EVENTS_KEEPALIVE_MS) {
        c.res.write(': keep-alive\n\n')
        lastWrite = Date.now()
      }
    } catch (err) {
      g.deps.log.warn('admin: live view update failed', { error: (err as Error).message })
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void tick(), EVENTS_POLL_MS)
  let closed = false
  function close(): void {
    if (closed) return
    closed = true
    openStreams.set(g.deps, (openStreams.get(g.deps) ?? 1) - 1)
    clearInterval(timer)
    c.res.end()
  }
  c.res.on('close', close)
  await tick()
}
