/** First run: the one-time token from `meshlan admin bootstrap` creates the first admin account. */
import { api } from '../api.ts'
import { field, h, liveRegion } from '../dom.ts'

export const bootstrapPage = {
  title: 'First run',
  async render(p: { onDone: () => void }): Promise<HTMLElement> {
    const token = h('input', { name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' })
    const user = h('input', {
      name: 'username',
      autocomplete: 'username',
      required: true,
      pattern: '[a-z0-9][a-z0-9._\\-]{0,31}',
    })
    const pass = h('input', {
      name: 'password',
      type: 'password',
      autocomplete: 'new-password',
      required: true,
      minlength: 10,
    })
    const again = h('input', {
      name: 'password2',
      type: 'password',
      autocomplete: 'new-password',
      required: true,
    })
    const msg = liveRegion('alert')
    const form = h(
      'form',
      { class: 'card narrow', 'aria-labelledby': 'boot-title' },
      h('h1', { id: 'boot-title' }, 'Create the first admin'),
      h(
        'p',
        {},
        'On the node, run ',
        h('code', {}, 'sudo meshlan admin bootstrap'),
        ' and paste the token it prints (valid 1 hour, once).',
      ),
      field('Bootstrap token', token),
      field('Username', user, 'Lowercase letters, digits, . _ or -'),
      field('Password', pass, 'At least 10 characters: a few words make a good one.'),
      field('Password again', again),
      msg,
      h('div', { class: 'actions' }, h('button', { class: 'primary' }, 'Create account')),
    )
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault()
      if (pass.value !== again.value) {
        msg.textContent = 'The two passwords differ.'
        return
      }
      try {
        await api('/api/bootstrap', { token: token.value.trim(), username: user.value, password: pass.value })
        p.onDone()
      } catch (err) {
        msg.textContent = (err as Error).message
      }
    })
    return form
  },
}
