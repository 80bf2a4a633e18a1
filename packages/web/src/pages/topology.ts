/**
 * The mesh as this node sees it, live: GET /api/events pushes the status and route list whenever
 * they change (a node joins, leaves or changes path), and the picture and its text list redraw.
 * Only this node's view: other members' links to each other are not in its status.
 */
import { h, section, svg } from '../dom.ts'
import { pathText } from '../format.ts'
import { onLeave, type Page } from '../page.ts'
import { layout, VIEW } from '../topology-layout.ts'
import type { Routes, Status } from '../types.ts'

function draw(picture: HTMLElement, list: HTMLElement, s: Status, r: Routes | null): void {
  const n = s.node
  if (n == null) {
    picture.replaceChildren(h('p', {}, 'The node is not running.'))
    return
  }
  const { nodes, links } = layout(n.self, n.peers, r?.nodes ?? [])
  const pos = new Map(nodes.map((x) => [x.id, x]))
  const lines = links.map((l) => {
    const a = pos.get(l.from)
    const b = pos.get(l.to)
    if (a == null || b == null) return null
    return svg(
      'line',
      { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: `link ${l.kind}` },
      svg('title', {}, l.label),
    )
  })
  const dots = nodes.map((x) =>
    svg(
      'g',
      { class: `node ${x.kind}${x.online ? '' : ' offline'}`, 'data-node': x.label },
      svg('circle', { cx: x.x, cy: x.y, r: x.kind === 'self' ? 16 : 12 }),
      svg('text', { x: x.x, y: x.y + (x.kind === 'self' ? 32 : 28), 'text-anchor': 'middle' }, x.label),
      x.routes.length || x.exit
        ? svg(
            'text',
            { x: x.x, y: x.y + (x.kind === 'self' ? 46 : 42), 'text-anchor': 'middle', class: 'sub' },
            [...x.routes, x.exit ? 'exit node' : ''].filter(Boolean).join(', '),
          )
        : null,
    ),
  )
  picture.replaceChildren(
    svg(
      'svg',
      { viewBox: `0 0 ${VIEW} ${VIEW}`, role: 'img', 'aria-labelledby': 'topo-desc', class: 'topology' },
      svg('desc', { id: 'topo-desc' }, `${nodes.length} nodes seen from ${n.self.name}`),
      ...lines,
      ...dots,
    ),
  )
  list.replaceChildren(
    ...n.peers.map((p) =>
      h(
        'li',
        { 'data-peer': p.name },
        h('strong', {}, p.name),
        ` ${p.ip} — ${pathText(p)}${p.rttMs == null ? '' : `, ${p.rttMs.toFixed(1)} ms`}`,
        p.routes.length ? ` — subnet router for ${p.routes.join(', ')}` : '',
        p.exitNode ? ' — exit node' : '',
        p.online ? '' : ' — offline',
      ),
    ),
  )
  if (n.peers.length === 0) list.replaceChildren(h('li', {}, 'No other member yet.'))
}

export const topologyPage: Page = {
  title: 'Topology',
  async render() {
    const picture = h('div', { class: 'picture' }, h('p', {}, 'Connecting to the live feed…'))
    const list = h('ul', { class: 'links', 'aria-live': 'polite' })
    const state = h('p', { class: 'note', role: 'status' }, 'connecting…')
    const es = new EventSource('/api/events')
    es.addEventListener('topology', (ev) => {
      const { status, routes } = JSON.parse((ev as MessageEvent<string>).data) as {
        status: Status
        routes: Routes | null
      }
      draw(picture, list, status, routes)
      state.textContent = `live · updated ${new Date().toLocaleTimeString()}`
    })
    es.addEventListener('error', () => (state.textContent = 'live feed interrupted: reconnecting…'))
    onLeave(() => es.close())
    return h(
      'div',
      {},
      h('h1', {}, 'Topology'),
      section(
        'The mesh from this node',
        h(
          'p',
          { class: 'hint' },
          'What this node sees: its own paths to each member (solid: direct, dashed: relayed), relays, subnet routers and exit nodes. Links between other members are not shown.',
        ),
        state,
        picture,
        h(
          'ul',
          { class: 'legend' },
          h('li', { class: 'direct' }, 'direct'),
          h('li', { class: 'relay' }, 'relayed'),
          h('li', { class: 'relay-node' }, 'relay (not a member)'),
        ),
      ),
      section('Paths', list),
    )
  },
}
