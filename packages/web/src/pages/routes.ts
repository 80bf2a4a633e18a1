/** Advertised subnet routes and exit-node offers, per node: approve or revoke each. */
import { api } from '../api.ts'
import { h, liveRegion, section, table } from '../dom.ts'
import type { Page, PageContext } from '../page.ts'
import type { RouteNode, Routes } from '../types.ts'

function action(
  ctx: PageContext,
  msg: HTMLElement,
  n: RouteNode,
  route: string,
  approved: boolean,
): HTMLElement {
  const verb = approved ? 'Revoke' : 'Approve'
  const what = route === 'exit' ? 'exit node' : route
  return h(
    'button',
    {
      type: 'button',
      class: approved ? 'danger' : 'primary',
      'aria-label': `${verb} ${what} on ${n.name}`,
      onclick: async () => {
        try {
          await api(`/api/routes/${approved ? 'revoke' : 'approve'}`, { node: n.name, route })
          ctx.refresh()
        } catch (err) {
          msg.textContent = (err as Error).message
        }
      },
    },
    verb,
  )
}

export const routesPage: Page = {
  title: 'Routes',
  async render(ctx) {
    const { nodes } = await api<Routes>('/api/routes')
    const msg = liveRegion('alert')
    const rows = nodes.flatMap((n) => {
      const cidrs = [...new Set([...n.advertised, ...n.approved.filter((r) => r !== 'exit')])]
      const out = cidrs.map((r) => {
        const ok = n.approved.includes(r)
        const state = ok
          ? n.advertised.includes(r)
            ? n.primary.includes(r)
              ? 'approved, primary'
              : 'approved'
            : 'approved (not offered now)'
          : 'offered'
        return [n.name, r, state, action(ctx, msg, n, r, ok)]
      })
      if (n.exitNode.advertised || n.exitNode.approved) {
        const ok = n.exitNode.approved
        out.push([
          n.name,
          'exit node',
          ok ? (n.exitNode.advertised ? 'approved' : 'approved (not offered now)') : 'offered',
          action(ctx, msg, n, 'exit', ok),
        ])
      }
      return out
    })
    return h(
      'div',
      {},
      h('h1', {}, 'Routes'),
      section(
        'Subnet routes and exit nodes',
        h(
          'p',
          { class: 'hint' },
          'A node routes nothing until you approve what it offers (',
          h('code', {}, '[routes] advertise'),
          ' in its config).',
        ),
        msg,
        rows.length === 0
          ? h('p', {}, 'No node offers routes.')
          : table(['Node', 'Route', 'State', ''], rows),
      ),
    )
  },
}
