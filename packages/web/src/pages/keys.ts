/**
 * Keys: create one (name, expiry, one-use or reusable, its ACL — default deny, validated as you
 * type — or allow everything) and show its join
 * string with a QR code once; list keys with their members; revoke.
 */
import { aclEditor } from '../acl-editor.ts'
import { api } from '../api.ts'
import { field, fill, h, liveRegion, section, table } from '../dom.ts'
import { when } from '../format.ts'
import type { Page, PageContext } from '../page.ts'
import { qrCanvas } from '../qr.ts'
import type { Key, Status } from '../types.ts'

interface Created {
  name: string
  joinString: string
}

function created(r: Created): HTMLElement {
  return h(
    'div',
    { class: 'created', 'aria-labelledby': 'created-title', role: 'region' },
    h('h3', { id: 'created-title' }, `Key ${r.name} created`),
    h('p', {}, 'Join a device with this string (shown once) or scan the code with the meshlan app:'),
    h(
      'textarea',
      { readonly: true, rows: 3, class: 'join', 'aria-label': 'Join string', spellcheck: 'false' },
      r.joinString,
    ),
    qrCanvas(r.joinString, `QR code of the join string for ${r.name}`),
  )
}

function createForm(ctx: PageContext, out: HTMLElement): HTMLElement {
  const name = h('input', {
    name: 'name',
    required: true,
    pattern: '[a-z0-9][a-z0-9\\-]{0,62}',
    autocomplete: 'off',
  })
  const expires = h('input', { name: 'expires', type: 'date' })
  const reusable = h('input', { name: 'reusable', type: 'checkbox', id: 'k-reusable' })
  const allowAll = h('input', { name: 'allowAll', type: 'checkbox', id: 'k-allow' })
  const create = h('button', { class: 'primary' }, 'Create key')
  // default deny: no rule until one is written here (or on the key's ACL page later)
  const acl = aclEditor({
    id: 'k-acl',
    label: 'ACL (JSON)',
    text: '{"rules": []}',
    rows: 4,
    onCheck: (r) => {
      create.disabled = !r.ok && !allowAll.checked
    },
  })
  allowAll.addEventListener('change', () => {
    acl.textarea.disabled = allowAll.checked
    acl.check()
  })
  const msg = liveRegion('alert')
  const form = h(
    'form',
    {},
    field('Name', name, 'Lowercase letters, digits and -'),
    field('Expires (no new device after this day)', expires),
    h(
      'div',
      { class: 'check' },
      reusable,
      h('label', { for: 'k-reusable' }, 'Reusable (several devices; otherwise one use)'),
    ),
    h(
      'div',
      { class: 'check' },
      allowAll,
      h('label', { for: 'k-allow' }, 'Allow everything (instead of the ACL below)'),
    ),
    acl.root,
    msg,
    create,
  )
  acl.check()
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    msg.textContent = ''
    try {
      const r = await api<Created>('/api/keys', {
        name: name.value,
        reusable: reusable.checked,
        allowAll: allowAll.checked,
        aclText: allowAll.checked ? null : acl.textarea.value,
        expiresAt: expires.value ? Date.parse(`${expires.value}T23:59:59Z`) : null,
      })
      out.replaceChildren(created(r))
      await refreshList(ctx, listBox)
    } catch (err) {
      msg.textContent = (err as Error).message
    }
  })
  return form
}

let listBox: HTMLElement

async function refreshList(ctx: PageContext, box: HTMLElement): Promise<void> {
  const [{ keys, revoked }, status] = await Promise.all([
    api<{ keys: Key[]; revoked: Array<{ name: string; revokedAt: number }> }>('/api/keys'),
    api<Status>('/api/status'),
  ])
  // the members this node sees, by the key they joined with (the policy has only the count)
  const byKey = new Map<string, string[]>()
  for (const p of status.node?.peers ?? []) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p.name])
  const msg = liveRegion('alert')
  const revoke = (k: Key) =>
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'aria-label': `Revoke key ${k.name}`,
        onclick: async () => {
          if (!confirm(`Revoke key ${k.name}? Its ${k.members} member(s) leave the network.`)) return
          try {
            await api('/api/keys/revoke', { name: k.name })
            await refreshList(ctx, box)
          } catch (err) {
            msg.textContent = (err as Error).message
          }
        },
      },
      'Revoke',
    )
  fill(
    box,
    msg,
    keys.length === 0
      ? h('p', {}, 'No key yet.')
      : table(
          ['Name', 'Created', 'Expires', 'Use', 'Members', 'ACL', ''],
          keys.map((k) => [
            k.name,
            when(k.createdAt),
            when(k.expiresAt),
            k.reusable ? 'reusable' : k.claimedBy ? 'one use (used)' : 'one use',
            `${k.members} / ${k.maxMembers}${byKey.has(k.name) ? `: ${(byKey.get(k.name) as string[]).join(', ')}` : ''}`,
            h('a', { href: `#/acl/${encodeURIComponent(k.name)}` }, 'Edit ACL'),
            revoke(k),
          ]),
        ),
    revoked.length ? h('p', { class: 'hint' }, `Revoked: ${revoked.map((r) => r.name).join(', ')}`) : null,
  )
}

export const keysPage: Page = {
  title: 'Keys',
  async render(ctx) {
    const out = h('div', {})
    listBox = h('div', {})
    await refreshList(ctx, listBox)
    return h(
      'div',
      {},
      h('h1', {}, 'Keys'),
      section('Create a key', createForm(ctx, out), out),
      section('Keys', listBox),
    )
  },
}
