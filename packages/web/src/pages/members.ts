/** The members this node sees: path (and why not direct), RTT, traffic, version; revoke. */
import { api } from '../api.ts'
import { h, liveRegion, section, table } from '../dom.ts'
import { bytes, pathText } from '../format.ts'
import type { Page } from '../page.ts'
import type { Peer, Status } from '../types.ts'

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
                seenText(p),
                p.version ?? '—',
                revoke(p.name),
              ]),
            ),
      ),
    )
  },
}

/** "online now", else how long ago the member was last seen (its record's time), else offline. */
function seenText(p: Peer): string {
  if (p.online) return 'online now'
  if (p.lastSeen == null) return 'offline'
  const s = Math.max(0, Math.round((Date.now() - p.lastSeen) / 1000))
  const ago =
    s < 90
      ? `${s} s`
      : s < 5400
        ? `${Math.round(s / 60)} min`
        : s < 129600
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86400)} d`
  return `offline, seen ${ago} ago`
}
