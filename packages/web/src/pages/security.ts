/** Your account: change the password, TOTP (enrol with a QR code, disable), recovery codes, lockouts. */
import { api } from '../api.ts'
import { field, h, liveRegion, section, table } from '../dom.ts'
import { duration } from '../format.ts'
import type { Page, PageContext } from '../page.ts'
import { qrCanvas } from '../qr.ts'

function form(
  title: string,
  fields: HTMLElement[],
  button: string,
  run: (msg: HTMLElement) => Promise<void>,
): HTMLElement {
  const msg = liveRegion('status')
  const f = h('form', { 'aria-label': title }, ...fields, msg, h('button', { class: 'primary' }, button))
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    msg.textContent = ''
    try {
      await run(msg)
    } catch (err) {
      msg.textContent = (err as Error).message
    }
  })
  return f
}

const codesList = (codes: string[]) =>
  h(
    'ol',
    { class: 'codes', 'aria-label': 'Recovery codes' },
    ...codes.map((c) => h('li', {}, h('code', {}, c))),
  )

function passwordForm(): HTMLElement {
  const cur = h('input', {
    type: 'password',
    name: 'current',
    autocomplete: 'current-password',
    required: true,
  })
  const next = h('input', {
    type: 'password',
    name: 'new',
    autocomplete: 'new-password',
    required: true,
    minlength: 10,
  })
  return form(
    'Change password',
    [field('Current password', cur), field('New password', next, 'At least 10 characters')],
    'Change password',
    async (msg) => {
      await api('/api/password', { current: cur.value, password: next.value })
      msg.textContent = 'Password changed. Your other sessions were signed out.'
    },
  )
}

function totpOff(ctx: PageContext): HTMLElement {
  const out = h('div', {})
  const start = h('button', { type: 'button', class: 'primary' }, 'Enable TOTP')
  start.addEventListener('click', async () => {
    const r = await api<{ secret: string; uri: string; recoveryCodes: string[] }>('/api/totp/begin', {})
    const code = h('input', {
      name: 'code',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      required: true,
    })
    out.replaceChildren(
      h('p', {}, 'Scan this with your authenticator app, or type the secret:'),
      qrCanvas(r.uri, 'QR code of the TOTP secret'),
      h('p', {}, 'Secret: ', h('code', { class: 'secret' }, r.secret)),
      h('p', {}, 'Recovery codes (each works once instead of a code; keep them offline):'),
      codesList(r.recoveryCodes),
      form('Confirm TOTP', [field('First code from the app', code)], 'Turn TOTP on', async () => {
        await api('/api/totp/confirm', { code: code.value.trim() })
        ctx.refresh()
      }),
    )
    start.remove()
  })
  return h(
    'div',
    {},
    h('p', {}, 'TOTP is ', h('strong', {}, 'off'), ': signing in needs only the password.'),
    start,
    out,
  )
}

function totpOn(left: number): HTMLElement {
  const code = h('input', {
    name: 'code',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    required: true,
  })
  const codesOut = h('div', {})
  const regen = h('button', { type: 'button' }, 'New recovery codes')
  regen.addEventListener('click', async () => {
    const r = await api<{ recoveryCodes: string[] }>('/api/totp/recovery-codes', {})
    codesOut.replaceChildren(
      h('p', {}, 'New recovery codes (the old ones no longer work):'),
      codesList(r.recoveryCodes),
    )
  })
  return h(
    'div',
    {},
    h('p', {}, 'TOTP is ', h('strong', {}, 'on'), `. ${left} recovery code${left === 1 ? '' : 's'} left.`),
    regen,
    codesOut,
    form('Disable TOTP', [field('Code or recovery code', code)], 'Disable TOTP', async (msg) => {
      await api('/api/totp/disable', { code: code.value.trim() })
      msg.textContent = 'TOTP is off.'
    }),
  )
}

export const securityPage: Page = {
  title: 'Security',
  async render(ctx) {
    const { lockouts, recoveryCodesLeft } = await api<{
      lockouts: Array<{ event: string; source: string; retryAfterS: number; failures: number }>
      recoveryCodesLeft: number
    }>('/api/lockouts')
    return h(
      'div',
      {},
      h('h1', {}, 'Security'),
      section('Password', passwordForm()),
      section('Two-factor (TOTP)', ctx.session.totp ? totpOn(recoveryCodesLeft) : totpOff(ctx)),
      section(
        'Lockouts',
        h(
          'p',
          { class: 'hint' },
          '5 failures in 15 minutes lock an address out of that sign-in for 5 minutes, doubling each time.',
        ),
        lockouts.length === 0
          ? h('p', {}, 'No address has failed recently.')
          : table(
              ['Address', 'On', 'Failures', 'Locked out'],
              lockouts.map((l) => [
                l.source,
                l.event,
                String(l.failures),
                l.retryAfterS > 0 ? `${duration(l.retryAfterS)} left` : 'no',
              ]),
            ),
      ),
    )
  },
}
