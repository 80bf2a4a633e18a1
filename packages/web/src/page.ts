/** What a page is: it draws into <main> and may hold something to stop when left (a live feed). */
import type { Session } from './types.ts'

export interface PageContext {
  session: Session
  /** The part of the hash after the page's name (`#/acl/laptop` → `laptop`). */
  arg: string
  /** Called again to redraw the current page (after a change). */
  refresh: () => void
}

export interface Page {
  title: string
  render(ctx: PageContext): Promise<HTMLElement>
}

/** Stops what the page started (an EventSource) when another page is shown. */
export type Cleanup = () => void
let cleanups: Cleanup[] = []

export function onLeave(fn: Cleanup): void {
  cleanups.push(fn)
}

export function leavePage(): void {
  for (const fn of cleanups) fn()
  cleanups = []
}
