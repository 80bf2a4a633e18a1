/**
 * The TOTP prompt a change shows when the session's last code is older than the API's window
 * (5 minutes): a modal <dialog> (focus is trapped and Escape cancels, by the browser).
 */
import { field, h } from './dom.ts'

export function askTotp(): Promise<string | null> {
  const input = h('input', {
    name: 'totp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    required: true,
    maxlength: 32,
  })
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'totp-title', class: 'totp-dialog' },
    h(
      'form',
      { method: 'dialog' },
      h('h2', { id: 'totp-title' }, 'Confirm with your code'),
      h('p', {}, 'This change needs a current code from your authenticator app (or a recovery code).'),
      field('TOTP or recovery code', input),
      h(
        'div',
        { class: 'actions' },
        h('button', { value: 'ok', class: 'primary' }, 'Confirm'),
        h('button', { value: 'cancel', formnovalidate: true }, 'Cancel'),
      ),
    ),
  )
  document.body.append(dialog)
  dialog.showModal()
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const v = dialog.returnValue === 'ok' ? input.value.trim() : ''
      dialog.remove()
      resolve(v === '' ? null : v)
    })
  })
}
