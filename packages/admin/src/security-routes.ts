/**
 * The signed-in admin's own security: change the password, enrol / disable TOTP, new recovery
 * codes, and the lockouts now in force. Each is a 'change' (session + CSRF + fresh TOTP when on)
 * except the lockout list; the CLI's `meshlan admin totp ...` does the same over the control socket.
 */
import { str } from './auth-routes.ts'
import type { Guards, RequestContext } from './context.ts'
import { PasswordWrongError } from './errors.ts'
import { readJson, sendJson } from './http.ts'
import type { Session } from './sessions.ts'

const me = (c: RequestContext): Session => c.session as Session

export async function changePassword(g: Guards, c: RequestContext): Promise<void> {
  const b = await readJson(c.req)
  const [current, password] = [str(b, 'current'), str(b, 'password')]
  const s = me(c)
  // the current password is a guess like a login's: counted, so a stolen session cannot brute-force it
  await g.notLockedOut(c.ip, 'login')
  if (!(await g.deps.accounts.changePassword(s.username, current, password))) {
    await g.failed(c.ip, 'login', s.username, 'wrong current password')
    throw new PasswordWrongError()
  }
  g.deps.sessions.deleteUserExcept(s.username, s)
  await g.audit({ event: 'password.change', actor: s.username, source: `ip:${c.ip}`, ok: true })
  sendJson(c.res, 200, { ok: true })
}

export async function totpBegin(g: Guards, c: RequestContext): Promise<void> {
  const s = me(c)
  sendJson(c.res, 200, await g.deps.accounts.beginTotp(s.username))
}

export async function totpConfirm(g: Guards, c: RequestContext): Promise<void> {
  const code = str(await readJson(c.req), 'code')
  const s = me(c)
  await g.deps.accounts.confirmTotp(s.username, code)
  // other sessions proved no code: they log in again; this one just proved one
  g.deps.sessions.deleteUserExcept(s.username, s)
  s.totpAt = g.deps.now()
  await g.audit({ event: 'totp.enable', actor: s.username, source: `ip:${c.ip}`, ok: true })
  sendJson(c.res, 200, { totp: true })
}

export async function totpDisable(g: Guards, c: RequestContext): Promise<void> {
  const code = str(await readJson(c.req), 'code')
  const s = me(c)
  const source = `ip:${c.ip}`
  try {
    const how = await g.deps.accounts.disableTotp(s.username, code)
    await g.proved(how, s.username, c.ip)
  } catch (err) {
    await g.audit({ event: 'totp.disable', actor: s.username, source, ok: false })
    throw err
  }
  g.deps.sessions.deleteUserExcept(s.username, s)
  await g.audit({ event: 'totp.disable', actor: s.username, source, ok: true })
  sendJson(c.res, 200, { totp: false })
}

export async function recoveryCodes(g: Guards, c: RequestContext): Promise<void> {
  const s = me(c)
  const codes = await g.deps.accounts.regenerateRecoveryCodes(s.username)
  await g.audit({ event: 'totp.recovery-codes', actor: s.username, source: `ip:${c.ip}`, ok: true })
  sendJson(c.res, 200, { recoveryCodes: codes })
}

/** The sources each counted event remembers: who is locked out, and for how long still. */
export async function lockouts(g: Guards, c: RequestContext): Promise<void> {
  const out: Array<{ event: string; source: string; retryAfterS: number; failures: number }> = []
  for (const [event, l] of Object.entries(g.deps.lockouts)) {
    for (const e of (await l.list?.()) ?? [])
      out.push({
        event,
        source: e.source,
        retryAfterS: Math.ceil(e.retryAfterMs / 1000),
        failures: e.failures,
      })
  }
  const s = me(c)
  sendJson(c.res, 200, {
    lockouts: out,
    recoveryCodesLeft: await g.deps.accounts.recoveryCodesLeft(s.username),
  })
}

export async function auditVerify(g: Guards, c: RequestContext): Promise<void> {
  sendJson(c.res, 200, g.deps.verifyAudit == null ? null : await g.deps.verifyAudit())
}
