/**
 * A labelled ACL text area that validates as you type with mesh's validator (acl-check.ts): the
 * issues list under it shows the CLI's messages, `Valid.` when there are none. Used by the ACL
 * page and by the key creation form.
 */
import { type AclResult, parseAcl } from './acl-check.ts'
import { h } from './dom.ts'

export interface AclEditor {
  root: HTMLElement
  textarea: HTMLTextAreaElement
  /** Validates the text now (and redraws the issues). */
  check(): AclResult
}

export function aclEditor(o: {
  id: string
  label: string
  text: string
  rows: number
  onCheck?: (r: AclResult) => void
}): AclEditor {
  const issues = h('ul', { id: `${o.id}-issues`, class: 'issues', 'aria-live': 'polite' })
  const textarea = h(
    'textarea',
    { id: o.id, rows: o.rows, spellcheck: 'false', class: 'code', 'aria-describedby': issues.id },
    o.text,
  )
  const check = (): AclResult => {
    const r = parseAcl(textarea.value)
    issues.replaceChildren(
      ...(r.ok
        ? [h('li', { class: 'ok' }, 'Valid.')]
        : r.errors.map((e) => h('li', { class: 'error' }, e.message))),
    )
    textarea.setAttribute('aria-invalid', String(!r.ok))
    o.onCheck?.(r)
    return r
  }
  textarea.addEventListener('input', check)
  const root = h('div', { class: 'field' }, h('label', { for: o.id }, o.label), textarea, issues)
  return { root, textarea, check }
}
