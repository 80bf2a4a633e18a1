/**
 * The frame around every signed-in page: the navigation (a list of links; the current one marked
 * aria-current) and who is signed in, with sign out.
 */
import { api } from './api.ts'
import { fill, h } from './dom.ts'

export const NAV: Array<[hash: string, label: string]> = [
  ['#/overview', 'Overview'],
  ['#/members', 'Members'],
  ['#/topology', 'Topology'],
  ['#/keys', 'Keys'],
  ['#/routes', 'Routes'],
  ['#/audit', 'Audit'],
  ['#/security', 'Security'],
]

export function renderHeader(username: string | null, current: string): void {
  const top = document.getElementById('top') as HTMLElement
  fill(
    top,
    h('span', { class: 'brand' }, 'meshlan'),
    username == null
      ? null
      : h(
          'nav',
          { 'aria-label': 'Admin pages' },
          h(
            'ul',
            {},
            ...NAV.map(([hash, label]) =>
              h(
                'li',
                {},
                h('a', { href: hash, 'aria-current': current.startsWith(hash) ? 'page' : null }, label),
              ),
            ),
          ),
        ),
    username == null
      ? null
      : h(
          'span',
          { class: 'who' },
          `${username} `,
          h(
            'button',
            {
              type: 'button',
              onclick: async () => {
                await api('/api/logout', {}).catch(() => {})
                location.hash = '#/sign-in'
                location.reload()
              },
            },
            'Sign out',
          ),
        ),
  )
}
