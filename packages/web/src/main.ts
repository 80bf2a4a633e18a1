/**
 * The web admin's entry: first-run bootstrap when no admin exists, else the sign-in page until a
 * session exists, then the page the hash names (`#/keys`, `#/acl/NAME`, ...). Hash routing: the
 * daemon serves one index.html, and a reload stays on the page.
 */
import { ApiError, api, setCsrf, whenLoggedOut } from './api.ts'
import { h } from './dom.ts'
import { leavePage, type Page } from './page.ts'
import { aclPage } from './pages/acl.ts'
import { auditPage } from './pages/audit.ts'
import { bootstrapPage } from './pages/bootstrap.ts'
import { keysPage } from './pages/keys.ts'
import { membersPage } from './pages/members.ts'
import { overviewPage } from './pages/overview.ts'
import { routesPage } from './pages/routes.ts'
import { securityPage } from './pages/security.ts'
import { signInPage } from './pages/sign-in.ts'
import { topologyPage } from './pages/topology.ts'
import { renderHeader } from './shell.ts'
import type { Session } from './types.ts'

const PAGES: Record<string, Page> = {
  overview: overviewPage,
  members: membersPage,
  topology: topologyPage,
  keys: keysPage,
  acl: aclPage,
  routes: routesPage,
  audit: auditPage,
  security: securityPage,
}

const main = document.getElementById('main') as HTMLElement

/** Asked only without a session; once an admin exists (409) never again. */
let bootstrapped = false
async function needsBootstrap(): Promise<boolean> {
  if (bootstrapped) return false
  try {
    await api('/api/bootstrap')
    return true
  } catch {
    bootstrapped = true // 409: an admin exists
    return false
  }
}

async function currentSession(): Promise<Session | null> {
  try {
    return await api<Session>('/api/session')
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null
    throw err
  }
}

function show(title: string, el: HTMLElement): void {
  document.title = `${title} · meshlan admin`
  main.replaceChildren(el)
  main.focus()
}

async function route(): Promise<void> {
  leavePage()
  const hash = location.hash || '#/overview'
  const session = await currentSession()
  if (session == null && (await needsBootstrap())) {
    renderHeader(null, hash)
    return show('First run', await bootstrapPage.render({ onDone: () => go('#/sign-in') }))
  }
  if (session == null) {
    renderHeader(null, hash)
    return show('Sign in', await signInPage.render({ onDone: () => go('#/overview') }))
  }
  setCsrf(session.csrf)
  const [name, ...rest] = hash.replace(/^#\//, '').split('/')
  const page = PAGES[name] ?? PAGES.overview
  renderHeader(session.username, `#/${name === 'acl' ? 'keys' : name}`)
  try {
    show(page.title, await page.render({ session, arg: decodeURIComponent(rest.join('/')), refresh: route }))
  } catch (err) {
    show('Error', h('p', { role: 'alert', class: 'error' }, (err as Error).message))
  }
}

function go(hash: string): void {
  if (location.hash === hash) void route()
  else location.hash = hash
}

whenLoggedOut(() => go('#/sign-in'))
window.addEventListener('hashchange', () => void route())
void route()
