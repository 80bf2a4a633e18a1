/** This node, its network and policy version, the owner key's lock (with unlock) and health. */
import { api } from '../api.ts'
import { field, h, liveRegion, section } from '../dom.ts'
import type { Page, PageContext } from '../page.ts'
import type { Status } from '../types.ts'

function dl(rows: Array<[string, string | Node]>): HTMLElement {
  return h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
}

function lockSection(ctx: PageContext): HTMLElement {
  const k = ctx.session.ownerKey
  if (k == null || !k.protected)
    return section('Owner key', h('p', {}, 'The owner key has no passphrase: changes are signed at once.'))
  const msg = liveRegion('alert')
  if (!k.locked) {
    const lock = h('button', { type: 'button' }, 'Lock now')
    lock.addEventListener('click', async () => {
      await api('/api/lock', {}).catch((e: Error) => (msg.textContent = e.message))
      ctx.refresh()
    })
    return section(
      'Owner key',
      h('p', {}, h('span', { class: 'badge ok' }, 'unlocked'), ' Changes can be signed.'),
      lock,
      msg,
    )
  }
  const pass = h('input', { type: 'password', name: 'passphrase', autocomplete: 'off', required: true })
  const form = h(
    'form',
    {},
    field('Owner key passphrase', pass),
    msg,
    h('button', { class: 'primary' }, 'Unlock'),
  )
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    try {
      await api('/api/unlock', { passphrase: pass.value })
      ctx.refresh()
    } catch (err) {
      msg.textContent = (err as Error).message
    }
  })
  return section(
    'Owner key',
    h('p', {}, h('span', { class: 'badge warn' }, 'locked'), ' Unlock to sign changes (keys, ACLs, routes).'),
    form,
  )
}

function natText(s: Status): string {
  const n = s.net
  if (n == null) return '—'
  const seen = n.observed.length
    ? `seen by peers as ${n.observed.join(', ')}`
    : 'no address seen by peers yet'
  if (n.behindNat == null) return seen
  if (!n.behindNat) return `no NAT (${seen})`
  const kind = n.natMapping ? `, ${n.natMapping} mapping${n.natPreservesPort ? ', port preserved' : ''}` : ''
  return `behind NAT${kind} (${seen})`
}

function relaysKnown(s: Status): string {
  const r = s.net?.relays ?? []
  if (r.length === 0) return 'none'
  return r
    .map(
      (x) =>
        `${x.name}${x.reserved ? ' (reserved)' : ''}${x.rttMs == null ? '' : ` ${x.rttMs.toFixed(0)} ms`}`,
    )
    .join(', ')
}

export const overviewPage: Page = {
  title: 'Overview',
  async render(ctx) {
    const s = await api<Status>('/api/status')
    const n = s.node
    const peers = n?.peers ?? []
    const relays = [...new Set(peers.filter((p) => p.path === 'relay' && p.via).map((p) => p.via as string))]
    return h(
      'div',
      {},
      h('h1', {}, 'Overview'),
      section(
        'This node',
        n == null
          ? h('p', {}, 'The node is not running (no network yet?).')
          : dl([
              ['Name', n.self.name],
              ['Overlay IP', n.self.ip ?? '—'],
              ['Network', `${n.self.network.name ?? '—'} (${n.self.network.id})`],
              ['Subnet', n.self.network.subnet ?? '—'],
              ['Policy version', String(n.self.network.policyVersion)],
              ['Role', s.info.network?.role ?? '—'],
              ['meshlan', s.info.version],
            ]),
      ),
      lockSection(ctx),
      section(
        'Health',
        dl([
          ['Members online', `${peers.filter((p) => p.online).length} of ${peers.length}`],
          ['Direct paths', String(peers.filter((p) => p.path === 'direct').length)],
          ['Relayed paths', String(peers.filter((p) => p.path === 'relay').length)],
          ['Relays in use', relays.length ? relays.join(', ') : 'none'],
          ['Relays known', relaysKnown(s)],
          ['NAT', natText(s)],
          ['This node relays', s.net == null ? '—' : `${s.net.relay ? 'yes' : 'no'} (${s.net.relayReason})`],
          ['Port mapping', s.net == null ? '—' : s.net.portMapping.enabled ? s.net.portMapping.state : 'off'],
          [
            'Not direct, why',
            peers
              .filter((p) => p.path !== 'direct' && p.why)
              .map((p) => `${p.name}: ${p.why}`)
              .join('; ') || '—',
          ],
          ['TUN device', s.info.device ?? 'none (no data plane on this node)'],
          [
            'MagicDNS',
            s.dns == null ? '—' : s.dns.enabled ? `${s.dns.mode}${s.dns.applied ? ', applied' : ''}` : 'off',
          ],
        ]),
      ),
    )
  },
}
