/** Bootstrap, login, logout, session, owner key unlock/lock: the endpoints that establish trust. */
import { SESSION_COOKIE, USERNAME_RE } from './constants.ts'
import { type Guards, overTls, type RequestContext } from './context.ts'
import {
  AdminError,
  AlreadyBootstrappedError,
  BadRequestError,
  LoginFailedError,
  NotProtectedError,
  UnlockFailedError,
} from './errors.ts'
import { cookie, readJson, sendJson } from './http.ts'
import { SessionStore } from './sessions.ts'

/** A string field of the body, or 400. */
export function str(body: Record<string, unknown>, name: string, optional = false): string {
  const v = body[name]
  if (v == null && optional) return ''
  if (typeof v !== 'string' || v.length > 4096) throw new BadRequestError(`"${name}" must be a string`)
  return v
}

/** How a tried username appears in the audit log: only when it could be one (never a typed password). */
const actorOf = (u: string): string => (USERNAME_RE.test(u) ? u : '-')

export async function bootstrap(g: Guards, c: RequestContext): Promise<void> {
  await g.notLockedOut(c.ip, 'bootstrap')
  const body = await readJson(c.req)
  const [token, username, password] = [str(body, 'token'), str(body, 'username'), str(body, 'password')]
  try {
    await g.deps.accounts.bootstrap(token, username, password)
  } catch (err) {
    // a wrong token is a guess; a 409 or a weak password is not an attack
    if (err instanceof AdminError && err.code === 'ERR_BOOTSTRAP_TOKEN')
      await g.failed(c.ip, 'bootstrap', actorOf(username), 'wrong or expired token')
    throw err
  }
  await g.succeeded(c.ip, 'bootstrap')
  await g.audit({ event: 'bootstrap', actor: username, source: `ip:${c.ip}`, ok: true })
  sendJson(c.res, 201, { username })
}

export async function login(g: Guards, c: RequestContext): Promise<void> {
  // before the body: a locked-out address gets 429 even with the right password
  await g.notLockedOut(c.ip, 'login')
  const body = await readJson(c.req)
  const [username, password, totp] = [str(body, 'username'), str(body, 'password'), str(body, 'totp', true)]
  const accounts = g.deps.accounts
  let ok = await accounts.checkPassword(username, password)
  let how: 'totp' | 'recovery' | null = null
  if (ok && (await accounts.totpEnabled(username))) {
    how = totp === '' ? null : await accounts.proveSecondFactor(username, totp)
    ok = how != null
  }
  if (!ok) {
    await g.failed(c.ip, 'login', actorOf(username), 'wrong username, password or code')
    throw new LoginFailedError()
  }
  await g.succeeded(c.ip, 'login')
  const { id, session } = g.deps.sessions.create(username, how != null)
  if (how != null) await g.proved(how, username, c.ip)
  await g.audit({ event: 'login', actor: username, source: `ip:${c.ip}`, ok: true })
  const cookie = [
    `${SESSION_COOKIE}=${id}`,
    'HttpOnly',
    'SameSite=Strict',
    'Path=/',
    `Max-Age=${SessionStore.maxAgeSeconds()}`,
    ...(overTls(c.req) ? ['Secure'] : []),
  ].join('; ')
  sendJson(
    c.res,
    200,
    {
      username,
      csrf: session.csrf,
      totp: how != null,
      expiresAt: session.createdAt + SessionStore.maxAgeSeconds() * 1000,
    },
    { 'Set-Cookie': cookie },
  )
}

export async function logout(g: Guards, c: RequestContext): Promise<void> {
  g.deps.sessions.delete(cookie(c.req, SESSION_COOKIE))
  await g.audit({ event: 'logout', actor: c.session?.username ?? '-', source: `ip:${c.ip}`, ok: true })
  sendJson(
    c.res,
    200,
    { ok: true },
    { 'Set-Cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` },
  )
}

export async function session(g: Guards, c: RequestContext): Promise<void> {
  const s = c.session
  if (s == null) return
  const lock = g.deps.ownerLock
  sendJson(c.res, 200, {
    username: s.username,
    csrf: s.csrf,
    totp: await g.deps.accounts.totpEnabled(s.username),
    totpProvedAt: s.totpAt,
    ownerKey: lock == null ? null : { protected: lock.protected, locked: lock.locked },
  })
}

export async function unlock(g: Guards, c: RequestContext): Promise<void> {
  await g.notLockedOut(c.ip, 'unlock')
  const body = await readJson(c.req)
  const passphrase = str(body, 'passphrase')
  const lock = g.deps.ownerLock
  if (lock == null || !lock.protected) throw new NotProtectedError()
  const actor = c.session?.username ?? '-'
  let ok = true
  try {
    await lock.unlock(passphrase)
  } catch (err) {
    // only a wrong passphrase is a guess; anything else (a damaged key file) is the box's problem
    if ((err as { code?: unknown }).code !== 'ERR_WRONG_PASSPHRASE') throw err
    ok = false
  }
  if (!ok) {
    await g.failed(c.ip, 'unlock', actor, 'wrong passphrase')
    throw new UnlockFailedError()
  }
  await g.succeeded(c.ip, 'unlock')
  await g.audit({ event: 'unlock', actor, source: `ip:${c.ip}`, ok: true })
  sendJson(c.res, 200, { locked: lock.locked })
}

export async function lock(g: Guards, c: RequestContext): Promise<void> {
  const l = g.deps.ownerLock
  if (l == null || !l.protected) throw new NotProtectedError()
  l.lock()
  await g.audit({ event: 'lock', actor: c.session?.username ?? '-', source: `ip:${c.ip}`, ok: true })
  sendJson(c.res, 200, { locked: l.locked })
}

/** For the bootstrap page: may it be shown? (no secret: only whether an admin exists) */
export async function bootstrapState(g: Guards, c: RequestContext): Promise<void> {
  if (await g.deps.accounts.hasAdmin()) throw new AlreadyBootstrappedError()
  sendJson(c.res, 200, { bootstrapped: false })
}
