/**
 * Serves the built web admin (packages/web) from `webRoot`, same origin as the API: `/` is
 * index.html, `/assets/*` its script and style. Only files that exist directly under the root or
 * assets/ are served (no `..`, no directory listing). Every page carries a strict
 * Content-Security-Policy: scripts and styles from this origin only, no inline code, no framing.
 */
import { readFile } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { Guards, RequestContext } from './context.ts'
import { NotFoundError } from './errors.ts'

/** The policy for everything the daemon serves: nothing from elsewhere, nothing inline. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** Headers every answer gets: the CSP, no framing, no referrer leaking the admin's URL. */
export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
}
/** `/`, `/favicon.svg`, `/assets/app.js`: one path segment under the root or assets/. */
const PATH_RE = /^\/(?:assets\/)?[A-Za-z0-9_-]+\.(html|js|css|svg|png)$/

function send(res: ServerResponse, status: number, type: string, body: Buffer | string, head: boolean): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    // no hashed names: the browser asks again, so an upgraded daemon's assets are used at once
    'Cache-Control': 'no-cache',
    ...SECURITY_HEADERS,
  })
  res.end(head ? undefined : body)
}

export async function webAsset(g: Guards, c: RequestContext): Promise<void> {
  const path = new URL(c.req.url ?? '/', 'http://admin').pathname
  const file = path === '/' ? '/index.html' : path
  const m = PATH_RE.exec(file)
  const head = c.req.method === 'HEAD'
  if (g.deps.webRoot == null) {
    if (path !== '/') throw new NotFoundError(path)
    const text =
      'The web admin is not built: run `pnpm --filter @meshlan/web build` (or scripts/build.mjs).\n'
    return send(c.res, 404, 'text/plain; charset=utf-8', text, head)
  }
  if (m == null) throw new NotFoundError(path)
  const body = await readFile(join(g.deps.webRoot, file)).catch(() => null)
  if (body == null) throw new NotFoundError(path)
  send(c.res, 200, TYPES[m[1]], body, head)
}
