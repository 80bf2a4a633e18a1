/**
 * One key's ACL: edit the JSON with validation as you type (the CLI's own validator and messages),
 * a diff against the signed version, then sign. Signing is a change: when TOTP is on and the
 * session's last code is stale the API asks for one (api.ts prompts).
 */
import { type AclResult, aclText } from '../acl-check.ts'
import { aclEditor } from '../acl-editor.ts'
import { api } from '../api.ts'
import { diffLines } from '../diff.ts'
import { h, liveRegion, section } from '../dom.ts'
import type { Page } from '../page.ts'

export const aclPage: Page = {
  title: 'ACL',
  async render(ctx) {
    const key = ctx.arg
    const { keys } = await api<{ keys: Array<{ name: string; acl: unknown }> }>(
      `/api/acls?key=${encodeURIComponent(key)}`,
    )
    let signed = aclText(keys[0]?.acl)
    const diff = h('pre', { class: 'diff', 'aria-label': 'Changes against the signed version' })
    const sign = h('button', { class: 'primary', type: 'button' }, 'Sign new version')
    const msg = liveRegion('status')
    const showDiff = (r: AclResult) => {
      // valid text is compared in the signed version's layout: the diff shows rules, not spacing
      const d = diffLines(signed, r.ok ? aclText(JSON.parse(editor.textarea.value)) : editor.textarea.value)
      const changed = d.some((l) => l.op !== ' ')
      diff.replaceChildren(
        ...(changed
          ? d.map((l) =>
              h('span', { class: l.op === '+' ? 'add' : l.op === '-' ? 'del' : '' }, `${l.op} ${l.text}\n`),
            )
          : ['No change from the signed version.']),
      )
      sign.disabled = !r.ok || !changed
    }
    const editor = aclEditor({
      id: 'acl-text',
      label: 'ACL (JSON)',
      text: signed,
      rows: 14,
      onCheck: showDiff,
    })
    sign.addEventListener('click', async () => {
      msg.textContent = ''
      try {
        const text = editor.textarea.value
        const r = await api<{ key: string; version: number }>('/api/acls', { key, aclText: text })
        signed = aclText(JSON.parse(text))
        msg.textContent = `Signed: policy version ${r.version}.`
        editor.check()
      } catch (err) {
        msg.textContent = `Not signed: ${(err as Error).message}`
      }
    })
    editor.check()
    return h(
      'div',
      {},
      h('p', {}, h('a', { href: '#/keys' }, '← Keys')),
      h('h1', {}, `ACL of key ${key}`),
      section(
        'Rules',
        h(
          'p',
          { class: 'hint' },
          'Default deny: members with this key reach only what a rule allows. Rules: ',
          h('code', {}, '{"to": ["tag:servers"], "ports": ["22/tcp"]}'),
          '. See docs/acl.md.',
        ),
        editor.root,
      ),
      section('Changes against the signed version', diff, h('div', { class: 'actions' }, sign), msg),
    )
  },
}
