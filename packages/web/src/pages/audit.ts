/** The audit log, newest first, filterable by text, event and outcome, with the chain's check. */
import { api } from '../api.ts'
import { field, h, section, table } from '../dom.ts'
import type { Page } from '../page.ts'
import type { AuditEntry, AuditVerify } from '../types.ts'

function verifyText(v: AuditVerify | null): HTMLElement {
  if (v == null) return h('p', {}, 'No audit log on this node.')
  if (v.ok)
    return h(
      'p',
      { class: 'verify' },
      h('span', { class: 'badge ok' }, 'chain verified'),
      ` ${v.lines} entries, each chained to the one before${v.truncated ? ' (the last line was cut short by a crash)' : ''}.`,
    )
  return h(
    'p',
    { class: 'verify' },
    h('span', { class: 'badge bad' }, 'chain broken'),
    ` ${v.bad ? `${v.bad.file} line ${v.bad.line}: ${v.bad.reason}` : 'see meshlan audit --verify'}`,
  )
}

const detailText = (d: AuditEntry['detail']) =>
  Object.entries(d ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')

export const auditPage: Page = {
  title: 'Audit',
  async render() {
    const [{ entries }, verify] = await Promise.all([
      api<{ entries: AuditEntry[] }>('/api/audit?limit=2000'),
      api<AuditVerify | null>('/api/audit/verify'),
    ])
    const text = h('input', { type: 'search', name: 'q', placeholder: 'actor, source, key…' })
    const events = [...new Set(entries.map((e) => e.event))].sort()
    const event = h(
      'select',
      { name: 'event' },
      h('option', { value: '' }, 'all events'),
      ...events.map((e) => h('option', { value: e }, e)),
    )
    const outcome = h(
      'select',
      { name: 'ok' },
      h('option', { value: '' }, 'all'),
      h('option', { value: 'ok' }, 'succeeded'),
      h('option', { value: 'failed' }, 'failed'),
    )
    const box = h('div', {})
    const count = h('p', { role: 'status', class: 'note' })
    const redraw = () => {
      const q = text.value.trim().toLowerCase()
      const shown = entries
        .filter(
          (e) =>
            (event.value === '' || e.event === event.value) &&
            (outcome.value === '' || (outcome.value === 'ok') === e.ok),
        )
        .filter(
          (e) =>
            q === '' || `${e.event} ${e.actor} ${e.source} ${detailText(e.detail)}`.toLowerCase().includes(q),
        )
        .reverse()
      count.textContent = `${shown.length} of ${entries.length} entries`
      box.replaceChildren(
        table(
          ['Time', 'Event', 'Actor', 'Source', 'Outcome', 'Detail'],
          shown.map((e) => [
            e.ts.replace('T', ' ').slice(0, 19),
            e.event,
            e.actor,
            e.source,
            e.ok ? 'ok' : h('span', { class: 'failed' }, 'failed'),
            detailText(e.detail),
          ]),
        ),
      )
    }
    for (const c of [text, event, outcome]) c.addEventListener('input', redraw)
    redraw()
    return h(
      'div',
      {},
      h('h1', {}, 'Audit log'),
      section('Integrity', verifyText(verify)),
      section(
        'Entries',
        h(
          'div',
          { class: 'filters' },
          field('Search', text),
          field('Event', event),
          field('Outcome', outcome),
        ),
        count,
        box,
      ),
    )
  },
}
