/** The members this node sees: path (and why not direct), RTT, traffic, version; revoke. */
import { api } from '../api.ts'
import { h, liveRegion, section, table } from '../dom.ts'
import { bytes, pathText } from '../format.ts'
import type { Page } from '../page.ts'
import type { Status } from '../types.ts'

export const membersPage: Page = {
  title: 'Members',
  async render(ctx) {
    const s = await api<Status>('/api/status')
    const peers = s.node?.peers ?? []
    const msg = liveRegion('alert')
    const revoke = (name: string) =>
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          'aria-label': `Revoke ${name}`,
          onclick: async () => {
            if (!confirm(`Revoke ${name}? It leaves the network at once (its key stays).`)) return
            try {
              await api('/api/nodes/revoke', { target: name })
              ctx.refresh()
            } catch (err) {
              msg.textContent = (err as Error).message
            }
          },
        },
        'Revoke',
      )
    return h(
      'div',
      {},
      h('h1', {}, 'Members'),
      section(
        `${peers.length} member${peers.length === 1 ? '' : 's'} seen from ${s.node?.self.name ?? 'this node'}`,
        msg,
        peers.length === 0
          ? h('p', {}, 'No other member yet: create a key and join a device with it.')
          : table(
              ['Name', 'Overlay IP', 'Key', 'Path', 'RTT', 'Traffic in / out', 'Seen', 'Version', ''],
              peers.map((p) => [
                p.name,
                p.ip,
                p.key,
                pathText(p),
                p.rttMs == null ? '—' : `${p.rttMs.toFixed(1)} ms`,
                `${bytes(p.rxBytes)} / ${bytes(p.txBytes)}`,
                p.online ? 'online now' : 'offline',
                p.version ?? '—',
                revoke(p.name),
              ]),
            ),
      ),
    )
  },
}
