/**
 * The network's admin endpoints: reads (status, keys, ACLs, routes, audit) and changes (keys,
 * ACLs, routes, node revoke), each a call of the daemon's Controller — the same code the CLI runs
 * over the control socket, so an owner key that is locked refuses here exactly as there.
 */
import { str } from './auth-routes.ts'
import type { Guards, RequestContext } from './context.ts'
import { BadRequestError } from './errors.ts'
import { readJson, sendJson } from './http.ts'
import type { CallContext } from './types.ts'

type Body = Record<string, unknown>

const optStr = (b: Body, name: string): string | null => (b[name] == null ? null : str(b, name))

function optNum(b: Body, name: string): number | null {
  const v = b[name]
  if (v == null) return null
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadRequestError(`"${name}" must be a number`)
  return v
}

function optStrings(b: Body, name: string): string[] | null {
  const v = b[name]
  if (v == null) return null
  if (!Array.isArray(v) || v.length > 64 || !v.every((x) => typeof x === 'string'))
    throw new BadRequestError(`"${name}" must be a list of strings`)
  return v as string[]
}

export async function status(g: Guards, c: RequestContext): Promise<void> {
  sendJson(c.res, 200, await g.deps.status())
}

export async function keys(g: Guards, c: RequestContext): Promise<void> {
  sendJson(c.res, 200, await g.deps.controller.keyList({}))
}

export async function acls(g: Guards, c: RequestContext): Promise<void> {
  sendJson(c.res, 200, await g.deps.controller.aclShow({ key: c.query.get('key') }))
}

export async function routes(g: Guards, c: RequestContext): Promise<void> {
  sendJson(c.res, 200, await g.deps.controller.routeList({}))
}

export async function audit(g: Guards, c: RequestContext): Promise<void> {
  const read = g.deps.readAudit
  const since = c.query.get('since')
  const limit = Math.min(Math.max(Number(c.query.get('limit') ?? 500) || 500, 1), 5000)
  const entries = read == null ? [] : await read({ since: since == null ? null : Number(since), limit })
  sendJson(c.res, 200, { entries })
}

/**
 * Runs one change as the logged-in admin: the Controller audits it (ok or failed) with this
 * actor and source, as it does for the control socket's uid.
 */
async function change(c: RequestContext, run: (ctx: CallContext) => Promise<unknown>): Promise<void> {
  const ctx = { actor: c.session?.username ?? '-', source: `ip:${c.ip}` }
  sendJson(c.res, 200, await run(ctx))
}

export async function keyCreate(g: Guards, c: RequestContext): Promise<void> {
  const b = await readJson(c.req)
  const name = str(b, 'name')
  await change(c, (ctx) =>
    g.deps.controller.keyCreate(
      {
        name,
        aclText: optStr(b, 'aclText'),
        allowAll: b.allowAll === true,
        expiresAt: optNum(b, 'expiresAt'),
        memberExpiresAt: optNum(b, 'memberExpiresAt'),
        reusable: b.reusable === true,
        maxMembers: optNum(b, 'maxMembers'),
        tags: optStrings(b, 'tags'),
      },
      ctx,
    ),
  )
}

export async function keyRevoke(g: Guards, c: RequestContext): Promise<void> {
  const name = str(await readJson(c.req), 'name')
  await change(c, (ctx) => g.deps.controller.keyRevoke({ name }, ctx))
}

export async function aclSet(g: Guards, c: RequestContext): Promise<void> {
  const b = await readJson(c.req)
  const [key, aclText] = [str(b, 'key'), str(b, 'aclText')]
  await change(c, (ctx) => g.deps.controller.aclSet({ key, aclText }, ctx))
}

export async function routeApprove(g: Guards, c: RequestContext): Promise<void> {
  const b = await readJson(c.req)
  const [node, route] = [str(b, 'node'), str(b, 'route')]
  await change(c, (ctx) => g.deps.controller.routeApprove({ node, route }, ctx))
}

export async function routeRevoke(g: Guards, c: RequestContext): Promise<void> {
  const b = await readJson(c.req)
  const [node, route] = [str(b, 'node'), str(b, 'route')]
  await change(c, (ctx) => g.deps.controller.routeRevoke({ node, route }, ctx))
}

export async function nodeRevoke(g: Guards, c: RequestContext): Promise<void> {
  const b = await readJson(c.req)
  const target = str(b, 'target')
  const withKey = b.withKey === true
  await change(c, (ctx) => g.deps.controller.nodeRevoke({ target, withKey }, ctx))
}
