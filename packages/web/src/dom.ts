/** A few DOM helpers instead of a framework: elements from tag, attributes and children. */

export type Child = Node | string | number | null | undefined | false | Child[]
type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => void)
export type Attrs = Record<string, AttrValue>

function apply(el: Element, attrs: Attrs, children: Child[]): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (v === true) el.setAttribute(k, '')
    else if (v != null && v !== false) el.setAttribute(k, String(v))
  }
  append(el, children)
}

export function append(el: Element, children: Child[]): void {
  for (const c of children.flat(8 as 1) as Child[]) {
    if (c == null || c === false) continue
    el.append(c instanceof Node ? c : String(c))
  }
}

/** Replaces an element's children (null and false skipped, as in h()). */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  apply(el, attrs, children)
  return el
}

const SVG_NS = 'http://www.w3.org/2000/svg'
export function svg(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement
  apply(el, attrs, children)
  return el
}

let ids = 0
/** A labelled form control: the label names it (and is what assistive tech reads). */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  control.id ||= `f${++ids}`
  const hintEl = hint ? h('small', { id: `${control.id}-hint` }, hint) : null
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id)
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl)
}

/** A region that screen readers announce when its text changes (errors, results). */
export function liveRegion(kind: 'alert' | 'status' = 'status'): HTMLElement {
  return h('div', { role: kind, class: kind === 'alert' ? 'error' : 'note', 'aria-live': 'polite' })
}

export function setText(el: Element, text: string): void {
  el.textContent = text
}

export function table(headers: string[], rows: Child[][], caption?: string): HTMLTableElement {
  return h(
    'table',
    {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      {},
      ...rows.map((r) =>
        h('tr', {}, ...r.map((c, i) => h('td', { 'data-label': headers[i] ?? '' }, c as Child))),
      ),
    ),
  )
}

/** A section with a heading, the unit every page is made of. */
export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children)
}
