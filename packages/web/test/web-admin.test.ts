/**
 * The web admin in a real browser (Debian's chromium, headless, through playwright-core) against
 * real daemons on loopback: first-run bootstrap with the token of `meshlan admin bootstrap`, TOTP
 * enrolment (its QR read back) and a sign-in with an `oathtool` code, the owner key's unlock, a key
 * created in the page (its QR decodes to the join string shown; `meshlan key list` has it), an ACL
 * error shown with the CLI's own message then fixed and signed (through the TOTP prompt), the
 * topology gaining a member that joins during the test (pushed live, no reload), its offered route
 * approved (the member's status says so), phone-sized pages, the member revoked (a topology tab
 * loses it live), a lockout after bad passwords with its remaining time, and the audit view listing
 * all of it with the chain verified. Every page is screenshotted (the directory is printed) and
 * checked for unlabelled controls; no script error or CSP violation may reach the console.
 * docs/web-admin.md lists the steps. Each step needs the ones before it (one browser session).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { buildWeb } from '../build.ts'
import { haveChromium, launch, readQr, screenshotDir, shot, unlabelled } from './browser.ts'
import { freePort, meshlan, nodeDir, oathtool, ok, okJson, stopNode, until } from './lab.ts'

const USER = 'alice'
const PASSWORD = 'correct horse battery staple'
const PASSPHRASE = 'owner key passphrase'
const ROUTE = '192.168.77.0/24'
const BAD_ACL = '{"rules":[{"to":["node:server"],"ports":["22/tpc"]}]}'
const GOOD_ACL = '{"rules":[{"to":["node:server"],"ports":["22/tcp"]}]}'
const REQUIRED = process.env.MESHLAN_REQUIRE_LABS === '1'
const HEADINGS: Record<string, string> = { Audit: 'Audit log' }

describe('web admin in chromium: bootstrap, TOTP, keys + QR, ACL, live topology, routes, lockout, audit', () => {
  let root = ''
  let owner = ''
  let member = ''
  let base = ''
  let shots = ''
  let browser: Browser | null = null
  let ctx: BrowserContext
  let page: Page
  let totpSecret = ''
  let joinString = ''
  const consoleErrors: string[] = []
  /** A screenshot of the page, after checking every control on it has an accessible name. */
  const snap = async (p: Page, name: string) => {
    assert.deepEqual(await unlabelled(p), [], `unlabelled controls on ${name}`)
    await shot(p, shots, name)
  }
  const missing = !haveChromium()
  /** Follows a navigation link and waits for that page's heading (pages render after a fetch). */
  const nav = async (p: Page, link: string) => {
    await p.getByRole('link', { name: link, exact: true }).click()
    await p.getByRole('heading', { level: 1, name: HEADINGS[link] ?? link, exact: true }).waitFor()
  }

  before(async () => {
    if (missing) return
    const t0 = Date.now()
    root = await mkdtemp(join(tmpdir(), 'meshlan-web-'))
    // a build of its own, named to the daemons: packages/web/build is not touched under other tests
    process.env.MESHLAN_WEB_ROOT = await buildWeb(join(root, 'web'))
    const port = await freePort()
    owner = await nodeDir(root, 'owner', `[admin]\nlisten = ["127.0.0.1:${port}"]\n`)
    member = await nodeDir(root, 'member', `[routes]\nadvertise = ["${ROUTE}"]\n`)
    base = `http://127.0.0.1:${port}`
    await ok(owner, 'init', '--name', 'owner')
    const created = await meshlan(
      owner,
      ['network', 'create', 'lab', '--passphrase-file', '-'],
      `${PASSPHRASE}\n`,
    )
    assert.equal(created.code, 0, created.stderr)
    await ok(owner, 'up')
    shots = await screenshotDir()
    console.log(`# screenshots: ${shots}`)
    browser = await launch()
    ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } })
    // a loaded 2-core CI machine starts daemons slowly: generous waits, failures still name the step
    ctx.setDefaultTimeout(45_000)
    page = await ctx.newPage()
    // a CSP violation or a script error fails the test at the end (an API's 4xx answer is logged
    // as "Failed to load resource": those are expected, e.g. the 401 before signing in)
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        consoleErrors.push(m.text())
    })
    page.on('pageerror', (e) => consoleErrors.push(e.message))
    console.log(`# set-up ${Date.now() - t0} ms`)
  })

  after(async () => {
    await browser?.close()
    if (owner) await stopNode(owner)
    if (member) await stopNode(member)
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('serves the page with a strict Content-Security-Policy', async (t) => {
    if (missing) {
      assert.ok(!REQUIRED, 'chromium is missing: apt-get install chromium (scripts/lib/toolchain.sh)')
      return t.skip('chromium is missing: apt-get install chromium')
    }
    const res = await fetch(`${base}/`)
    assert.equal(res.status, 200)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'self'/)
    assert.match(csp, /script-src 'self'(;|$)/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    const html = await res.text()
    assert.doesNotMatch(html, /<script>|style=/, 'no inline script or style')
  })

  it('first run: the bootstrap token from `meshlan admin bootstrap` creates the admin', async (t) => {
    if (missing) return t.skip()
    const token = (await ok(owner, 'admin', 'bootstrap')).trim()
    await page.goto(base)
    await page.getByLabel('Bootstrap token').fill(token)
    await page.getByLabel('Username').fill(USER)
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
    await page.getByLabel('Password again').fill(PASSWORD)
    await snap(page, '01-bootstrap')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.getByRole('heading', { name: 'Sign in to meshlan' }).waitFor()
  })

  it('TOTP: enrol on the security page (the QR is the otpauth URI), then sign in with an oathtool code', async (t) => {
    if (missing) return t.skip()
    await page.getByLabel('Username').fill(USER)
    await page.getByLabel('Password').fill(PASSWORD)
    await snap(page, '02-sign-in')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    await nav(page, 'Security')
    await page.getByRole('button', { name: 'Enable TOTP' }).click()
    totpSecret = (await page.locator('code.secret').textContent()) ?? ''
    assert.match(totpSecret, /^[A-Z2-7]{16,}$/)
    const uri = await readQr(page, 'canvas.qr')
    assert.ok(uri?.startsWith('otpauth://totp/'), `QR: ${uri}`)
    assert.equal(new URL(uri as string).searchParams.get('secret'), totpSecret)
    await page.getByLabel('First code from the app').fill(await oathtool(totpSecret))
    await snap(page, '03-security-totp-enrol')
    await page.getByRole('button', { name: 'Turn TOTP on' }).click()
    await page.getByText('TOTP is on').waitFor()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to meshlan' }).waitFor()
    // by keyboard only: Tab between the fields, Enter submits
    await page.getByLabel('Username').focus()
    await page.keyboard.type(USER)
    await page.keyboard.press('Tab')
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press('Tab')
    // the enrolment used this 30 s step's code; each step's code works once: take the next one
    await page.keyboard.type(await oathtool(totpSecret, 30))
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
  })

  it('overview: the owner key is locked; unlocking in the page lets changes be signed', async (t) => {
    if (missing) return t.skip()
    await page.getByText('locked', { exact: true }).waitFor()
    await page.getByLabel('Owner key passphrase').fill(PASSPHRASE)
    await page.getByRole('button', { name: 'Unlock' }).click()
    await page.getByText('unlocked', { exact: true }).waitFor()
    assert.equal((await okJson<{ locked: boolean }>(owner, 'lock', '--status')).locked, false)
    for (const fact of ['Policy version', 'Relays in use', 'NAT', 'This node relays', 'MagicDNS'])
      await page
        .getByRole('term')
        .filter({ hasText: new RegExp(`^${fact}$`) })
        .waitFor()
    await snap(page, '04-overview')
  })

  it('keys: create one; its QR decodes to the join string shown, and `meshlan key list` has it', async (t) => {
    if (missing) return t.skip()
    await nav(page, 'Keys')
    await page.getByLabel('Name').fill('laptop')
    // an ACL error in the creation form: the same validator, Create waits for a fix
    const acl = page.getByLabel('ACL (JSON)')
    await acl.fill('{"rules": [{"to": ["nowhere"]}]}')
    await page.locator('#k-acl-issues li.error').waitFor()
    assert.equal(await page.getByRole('button', { name: 'Create key' }).isDisabled(), true)
    await acl.fill('{"rules": []}')
    const t0 = Date.now()
    await page.getByRole('button', { name: 'Create key' }).click()
    await page.getByRole('heading', { name: 'Key laptop created' }).waitFor()
    joinString = await page.getByRole('textbox', { name: 'Join string' }).inputValue()
    assert.match(joinString, /^mlj2_\S+$/)
    await page.locator('canvas.qr').waitFor()
    console.log(`# key shown ${Date.now() - t0} ms`)
    assert.equal(await readQr(page, 'canvas.qr'), joinString)
    console.log(`# QR read ${Date.now() - t0} ms`)
    await page.getByRole('cell', { name: 'laptop', exact: true }).waitFor()
    await snap(page, '05-keys')
    const { keys } = await okJson<{ keys: Array<{ name: string }> }>(owner, 'key', 'list')
    assert.ok(
      keys.some((k) => k.name === 'laptop'),
      JSON.stringify(keys),
    )
  })

  it('ACL editor: an error shows the CLI message as you type, the fix validates, the diff shows, signing applies', async (t) => {
    if (missing) return t.skip()
    const bad = join(root, 'bad.json')
    await writeFile(bad, BAD_ACL)
    const cli = await meshlan(owner, ['acl', 'set', 'laptop', bad])
    assert.notEqual(cli.code, 0)
    const cliIssues = cli.stderr
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.replace(/^(meshlan: |error: )/, '').trim())
    assert.ok(cliIssues.length > 0, cli.stderr)
    await page.getByRole('link', { name: 'Edit ACL' }).click()
    // the keys page has an ACL field too: wait until this page has replaced it
    await page.getByRole('heading', { name: 'ACL of key laptop' }).waitFor()
    const editor = page.getByLabel('ACL (JSON)')
    await editor.fill(BAD_ACL)
    const issues = page.locator('#acl-text-issues li.error')
    await issues.first().waitFor()
    const shown = (await issues.allTextContents()).map((s) => s.trim())
    assert.deepEqual(shown, cliIssues)
    assert.equal(await page.getByRole('button', { name: 'Sign new version' }).isDisabled(), true)
    await snap(page, '06-acl-error')
    await editor.fill(GOOD_ACL)
    await page.locator('#acl-text-issues li.ok').waitFor()
    assert.ok((await page.locator('pre.diff .add').count()) > 0, 'the diff shows added lines')
    await snap(page, '07-acl-diff')
    // A session whose last code is over 5 minutes old gets 401 ERR_TOTP_REQUIRED for a change; a
    // test cannot wait that long, so the daemon's first answer to this signing is replaced by that
    // one: the page must ask for a code and send the same request again with X-TOTP (to the daemon).
    let answered = 0
    let retriedWith: string | null = null
    await page.route('**/api/acls', async (route) => {
      if (route.request().method() !== 'POST') return route.continue()
      if (answered++ === 0)
        return route.fulfill({
          status: 401,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'ERR_TOTP_REQUIRED', message: 'needs a fresh TOTP code' } }),
        })
      retriedWith = route.request().headers()['x-totp'] ?? null
      return route.continue()
    })
    await page.getByRole('button', { name: 'Sign new version' }).click()
    const prompt = page.getByRole('dialog', { name: 'Confirm with your code' })
    await prompt.waitFor()
    const code = await oathtool(totpSecret)
    await prompt.getByLabel('TOTP or recovery code').fill(code)
    await snap(page, '07b-acl-totp-prompt')
    await prompt.getByRole('button', { name: 'Confirm' }).click()
    await page.getByText(/Signed: policy version \d+/).waitFor()
    assert.equal(retriedWith, code, 'the retry carried the code typed in the prompt')
    await page.unroute('**/api/acls')
    const shownAcl = await okJson<{ name: string; acl: unknown }>(owner, 'acl', 'show', 'laptop')
    assert.deepEqual(shownAcl.acl, JSON.parse(GOOD_ACL))
  })

  it('topology: a member that joins during the test appears live (server-sent events, no reload)', async (t) => {
    if (missing) return t.skip()
    await nav(page, 'Topology')
    await page.getByText(/^live · updated/).waitFor()
    assert.equal(await page.locator('[data-peer="member"]').count(), 0)
    const t0 = Date.now()
    // on stdin, as the CLI asks (an argument would show in `ps`)
    const joined = await meshlan(member, ['join', '-', '--name', 'member'], `${joinString}\n`)
    assert.equal(joined.code, 0, joined.stderr)
    console.log(`# join ${Date.now() - t0} ms`)
    await ok(member, 'up')
    console.log(`# up ${Date.now() - t0} ms`)
    await page.locator('[data-peer="member"]').waitFor({ timeout: 45_000 })
    await page.locator('svg.topology g[data-node="member"]').waitFor()
    console.log(`# member on the topology page ${Date.now() - t0} ms after join`)
    await until(
      async () => /direct/.test((await page.locator('[data-peer="member"]').textContent()) ?? ''),
      30_000,
      'the direct path on the page',
    )
    await snap(page, '08-topology')
    await nav(page, 'Keys')
    await page.getByRole('cell', { name: '1 / 1: member' }).waitFor()
    await nav(page, 'Members')
    await page.getByRole('cell', { name: 'member', exact: true }).waitFor()
    await snap(page, '09-members')
  })

  it("routes: the member's offered subnet is approved in the page; the member's status has it", async (t) => {
    if (missing) return t.skip()
    await nav(page, 'Routes')
    await until(
      async () => {
        if (await page.getByRole('button', { name: `Approve ${ROUTE} on member` }).count()) return true
        await page.reload() // the offer arrives with the member's record
        return false
      },
      30_000,
      'the route offer on the routes page',
    )
    await page.getByRole('button', { name: `Approve ${ROUTE} on member` }).click()
    await page.getByRole('button', { name: `Revoke ${ROUTE} on member` }).waitFor()
    await snap(page, '10-routes')
    const list = await okJson<{ nodes: Array<{ name: string; approved: string[] }> }>(owner, 'route', 'list')
    assert.ok(list.nodes.find((n) => n.name === 'member')?.approved.includes(ROUTE), JSON.stringify(list))
    await until(
      async () =>
        (
          await okJson<{ self: { routes: { approved: string[] } } }>(member, 'status')
        ).self.routes.approved.includes(ROUTE),
      30_000,
      "the approval in the member's status",
    )
    await nav(page, 'Topology')
    await page.getByText(`subnet router for ${ROUTE}`).waitFor({ timeout: 30_000 })
    await snap(page, '11-topology-router')
  })

  it('phone-sized screens: the pages fit a 390 px wide viewport', async (t) => {
    if (missing) return t.skip()
    await page.setViewportSize({ width: 390, height: 844 })
    for (const [hash, name] of [
      ['#/overview', '15-overview-phone'],
      ['#/members', '16-members-phone'],
      ['#/topology', '17-topology-phone'],
    ]) {
      await page.goto(`${base}/${hash}`)
      await page.locator('main h1').waitFor()
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      assert.ok(overflow <= 0, `${hash} overflows the phone screen by ${overflow} px`)
      await snap(page, name)
    }
    await page.setViewportSize({ width: 1200, height: 800 })
  })

  it('members: revoking the member in the page takes it off a topology page open in another tab, live', async (t) => {
    if (missing) return t.skip()
    const live = await ctx.newPage()
    await live.goto(`${base}/#/topology`)
    await live.locator('[data-peer="member"]').waitFor()
    await nav(page, 'Members')
    page.once('dialog', (d) => void d.accept())
    await page.getByRole('button', { name: 'Revoke member' }).click()
    await live.locator('[data-peer="member"]').waitFor({ state: 'detached', timeout: 30_000 })
    await snap(live, '18-topology-after-revoke')
    await live.close()
    const st = await okJson<{ peers: Array<{ name: string }> }>(owner, 'status')
    assert.ok(!st.peers.some((p) => p.name === 'member'), JSON.stringify(st.peers))
  })

  it('lockout: after 5 bad passwords the sign-in page says how long the address is locked out', async (t) => {
    if (missing) return t.skip()
    // another browser (no session): the admin's own session stays signed in
    const other = await (browser as Browser).newContext({ viewport: { width: 390, height: 844 } })
    const p = await other.newPage()
    await p.goto(base)
    const tryLogin = async (password: string) => {
      await p.getByLabel('Username').fill(USER)
      await p.getByLabel('Password').fill(password)
      await p.getByRole('button', { name: 'Sign in' }).click()
    }
    for (let i = 0; i < 5; i++) {
      await tryLogin('not the password')
      await p.getByText('wrong username, password or TOTP code').waitFor()
      await p.locator('[role=alert]').evaluate((e) => (e.textContent = ''))
    }
    await tryLogin(PASSWORD)
    const msg = p.getByText(/sign-in is locked for \d+ min/)
    await msg.waitFor()
    assert.match((await msg.textContent()) ?? '', /locked for (4 min [0-5]?\d|5 min 0) s more/)
    await snap(p, '12-sign-in-lockout-phone')
    await other.close()
    await nav(page, 'Security')
    await page.getByRole('cell', { name: 'ip:127.0.0.1' }).first().waitFor()
    assert.match((await page.locator('table').last().textContent()) ?? '', /login.*min.*left/)
    await snap(page, '13-security')
  })

  it('audit: the view lists all of it and the chain verifies', async (t) => {
    if (missing) return t.skip()
    await nav(page, 'Audit')
    await page.getByText('chain verified').waitFor()
    const rows = await page.locator('tbody tr').allTextContents()
    for (const event of [
      'bootstrap',
      'totp.enable',
      'unlock',
      'key.create',
      'acl.set',
      'route.approve',
      'node.revoke',
      'lockout',
    ])
      assert.ok(
        rows.some((r) => r.includes(event)),
        `audit view lists ${event}`,
      )
    assert.ok(
      rows.filter((r) => r.includes('login') && r.includes('failed')).length >= 5,
      'the 5 failed logins',
    )
    await snap(page, '14-audit')
    await page.getByLabel('Event').selectOption('lockout')
    await until(
      async () => (await page.locator('tbody tr').count()) === 1,
      5000,
      'the filter to one lockout row',
    )
    assert.match((await page.locator('tbody tr').textContent()) ?? '', /lockout.*ip:127\.0\.0\.1.*failed/)
    // the API's own list agrees with the page
    const verify = await okJson<{ ok: boolean }>(owner, 'audit', '--verify')
    assert.equal(verify.ok, true)
    assert.deepEqual(consoleErrors, [], 'no script error and no CSP violation in the console')
  })
})
