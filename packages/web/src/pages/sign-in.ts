/**
 * Sign in: username, password, and the code from the authenticator app or a recovery code. A
 * locked-out address gets the API's 429: the message says how long is left, counting down.
 */
import { ApiError, api } from '../api.ts'
import { field, h, liveRegion } from '../dom.ts'
import { duration } from '../format.ts'

let countdown: ReturnType<typeof setInterval> | null = null

export function lockoutText(seconds: number): string {
  return `Too many failed attempts from your address: sign-in is locked for ${duration(seconds)} more.`
}

export const signInPage = {
  title: 'Sign in',
  async render(p: { onDone: () => void }): Promise<HTMLElement> {
    const user = h('input', { name: 'username', autocomplete: 'username', required: true })
    const pass = h('input', {
      name: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    })
    const code = h('input', {
      name: 'totp',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      maxlength: 32,
    })
    const msg = liveRegion('alert')
    const submit = h('button', { class: 'primary' }, 'Sign in')
    const form = h(
      'form',
      { class: 'card narrow', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title' }, 'Sign in to meshlan'),
      field('Username', user),
      field('Password', pass),
      field('Code', code, 'From your authenticator app, or a recovery code. Leave empty if TOTP is off.'),
      msg,
      h('div', { class: 'actions' }, submit),
    )
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault()
      msg.textContent = ''
      submit.disabled = true
      try {
        await api('/api/login', { username: user.value, password: pass.value, totp: code.value.trim() })
        p.onDone()
      } catch (err) {
        if (err instanceof ApiError && err.status === 429) {
          let left = err.retryAfterS ?? 0
          msg.textContent = lockoutText(left)
          if (countdown) clearInterval(countdown)
          countdown = setInterval(() => {
            left = Math.max(0, left - 1)
            msg.textContent = left > 0 ? lockoutText(left) : 'You may try again now.'
            if (left === 0 && countdown) clearInterval(countdown)
          }, 1000)
        } else msg.textContent = (err as Error).message
      } finally {
        submit.disabled = false
      }
    })
    return form
  },
}
