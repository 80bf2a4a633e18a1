/**
 * The endpoint table (docs/admin-api.md) and the dispatch: the guards an endpoint names run before
 * it, in this order — lockout (inside the endpoints that count failures), session (401), CSRF
 * (403), fresh TOTP (401) — so a cross-site request never reaches a handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as admin from './admin-routes.ts'
import * as auth from './auth-routes.ts'
import { type AdminDeps, type Guard, Guards, type RequestContext } from './context.ts'
import { AdminError, MethodNotAllowedError, NotFoundError } from './errors.ts'
import { events } from './events.ts'
import { clientIp, sendError } from './http.ts'
import * as security from './security-routes.ts'
import { webAsset } from './web.ts'

type Handler = (g: Guards, c: RequestContext) => Promise<void>
type Method = 'GET' | 'HEAD' | 'POST'
type Entry = Partial<Record<Method, { guard: Guard; run: Handler }>>

const ROUTES: Record<string, Entry> = {
  '/api/bootstrap': {
    GET: { guard: 'none', run: auth.bootstrapState },
    POST: { guard: 'none', run: auth.bootstrap },
  },
  '/api/login': { POST: { guard: 'none', run: auth.login } },
  '/api/logout': { POST: { guard: 'session', run: auth.logout } },
  '/api/session': { GET: { guard: 'session', run: auth.session } },
  '/api/unlock': { POST: { guard: 'change', run: auth.unlock } },
  '/api/lock': { POST: { guard: 'change', run: auth.lock } },
  '/api/status': { GET: { guard: 'session', run: admin.status } },
  '/api/keys': {
    GET: { guard: 'session', run: admin.keys },
    POST: { guard: 'change', run: admin.keyCreate },
  },
  '/api/keys/revoke': { POST: { guard: 'change', run: admin.keyRevoke } },
  '/api/acls': { GET: { guard: 'session', run: admin.acls }, POST: { guard: 'change', run: admin.aclSet } },
  '/api/routes': { GET: { guard: 'session', run: admin.routes } },
  '/api/routes/approve': { POST: { guard: 'change', run: admin.routeApprove } },
  '/api/routes/revoke': { POST: { guard: 'change', run: admin.routeRevoke } },
  '/api/nodes/revoke': { POST: { guard: 'change', run: admin.nodeRevoke } },
  '/api/audit': { GET: { guard: 'session', run: admin.audit } },
  '/api/audit/verify': { GET: { guard: 'session', run: security.auditVerify } },
  '/api/events': { GET: { guard: 'session', run: events } },
  '/api/password': { POST: { guard: 'change', run: security.changePassword } },
  '/api/totp/begin': { POST: { guard: 'change', run: security.totpBegin } },
  '/api/totp/confirm': { POST: { guard: 'change', run: security.totpConfirm } },
  '/api/totp/disable': { POST: { guard: 'change', run: security.totpDisable } },
  '/api/totp/recovery-codes': { POST: { guard: 'change', run: security.recoveryCodes } },
  '/api/lockouts': { GET: { guard: 'session', run: security.lockouts } },
}

/** Anything outside /api/ is the web admin's files (no session: the sign-in page is one of them). */
const WEB: Entry = { GET: { guard: 'none', run: webAsset }, HEAD: { guard: 'none', run: webAsset } }

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

export function createHandler(deps: AdminDeps): RequestHandler {
  const g = new Guards(deps)
  return async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://admin')
      const entry = url.pathname.startsWith('/api/') ? ROUTES[url.pathname] : WEB
      if (entry == null) throw new NotFoundError(url.pathname)
      const route = entry[req.method as Method]
      if (route == null) throw new MethodNotAllowedError(Object.keys(entry).join(', '))
      const c: RequestContext = { req, res, ip: clientIp(req), session: null, query: url.searchParams }
      if (route.guard !== 'none') {
        c.session = g.session(req)
        // logout is a change too: without the token a cross-site page could log the admin out
        if (route.guard === 'change' || url.pathname === '/api/logout') g.csrf(req, c.session)
        if (route.guard === 'change') await g.freshTotp(req, c.ip, c.session)
      }
      await route.run(g, c)
    } catch (err) {
      if (!(err instanceof AdminError) && (err as { code?: unknown })?.code == null)
        deps.log.warn('admin: request failed', {
          path: req.url?.split('?')[0],
          error: (err as Error).message,
        })
      if (res.headersSent) res.destroy()
      else sendError(res, err)
      // a body left unread would be parsed as the next request on a keep-alive connection
      if (!req.complete) req.resume()
    }
  }
}
