/**
 * `meshlan set` / `meshlan up` route and exit-node flags: the one mapping between the control API's
 * RouteSettings and config.toml's `[routes]` table, and the live change on a running daemon
 * (checked by the node first, then persisted, then applied).
 */
import type { MeshNode } from '@meshlan/mesh'
import { routingState } from '@meshlan/mesh'
import { decodePolicy } from '@meshlan/wire'
import type { RouteSettings, RouteSettingsChange } from './api.ts'
import { type Config, loadConfig, updateConfig } from './config.ts'
import { ExitNodeUnusableError, InvalidArgumentError } from './errors.ts'
import type { StateDir } from './state.ts'

/** Checks the `set` method's parameters (types only; the node checks the values). */
export function checkRouteSettingsChange(p: Record<string, unknown>): RouteSettingsChange {
  const ch: RouteSettingsChange = {}
  const bool = (k: keyof RouteSettings): boolean | undefined => {
    const v = p[k]
    if (v === undefined) return undefined
    if (typeof v !== 'boolean') throw new InvalidArgumentError(`${k} must be true or false`)
    return v
  }
  for (const k of Object.keys(p)) {
    if (!SETTINGS_KEYS.includes(k as keyof RouteSettings)) {
      throw new InvalidArgumentError(
        `unknown setting ${JSON.stringify(k)}: one of ${SETTINGS_KEYS.join(', ')}`,
      )
    }
  }
  if (p.advertiseRoutes !== undefined) {
    const r = p.advertiseRoutes
    if (!Array.isArray(r) || !r.every((x) => typeof x === 'string'))
      throw new InvalidArgumentError('advertiseRoutes must be a list of CIDRs')
    ch.advertiseRoutes = r
  }
  if (p.exitNode !== undefined) {
    if (p.exitNode !== null && typeof p.exitNode !== 'string')
      throw new InvalidArgumentError('exitNode must be a node name, an overlay IP, or empty')
    ch.exitNode = p.exitNode === '' ? null : p.exitNode
  }
  ch.advertiseExitNode = bool('advertiseExitNode')
  ch.acceptRoutes = bool('acceptRoutes')
  ch.exitNodeAllowLanAccess = bool('exitNodeAllowLanAccess')
  ch.snatSubnetRoutes = bool('snatSubnetRoutes')
  for (const k of Object.keys(ch) as Array<keyof RouteSettings>) if (ch[k] === undefined) delete ch[k]
  return ch
}

const SETTINGS_KEYS: ReadonlyArray<keyof RouteSettings> = [
  'advertiseRoutes',
  'advertiseExitNode',
  'acceptRoutes',
  'exitNode',
  'exitNodeAllowLanAccess',
  'snatSubnetRoutes',
]

/** The settings as config.toml holds them. */
export function routeSettingsOf(c: Config): RouteSettings {
  return {
    advertiseRoutes: c.routes.advertise,
    advertiseExitNode: c.routes.advertise_exit_node,
    acceptRoutes: c.routes.accept,
    exitNode: c.routes.exit_node,
    exitNodeAllowLanAccess: c.routes.exit_node_allow_lan_access,
    snatSubnetRoutes: c.routes.snat,
  }
}

/** The `[routes]` keys a change sets (unset fields are left alone). */
function routesTable(ch: RouteSettingsChange): Record<string, unknown> {
  const t: Record<string, unknown> = {}
  if (ch.advertiseRoutes !== undefined) t.advertise = ch.advertiseRoutes
  if (ch.advertiseExitNode !== undefined) t.advertise_exit_node = ch.advertiseExitNode
  if (ch.acceptRoutes !== undefined) t.accept = ch.acceptRoutes
  if (ch.exitNode !== undefined) t.exit_node = ch.exitNode ?? ''
  if (ch.exitNodeAllowLanAccess !== undefined) t.exit_node_allow_lan_access = ch.exitNodeAllowLanAccess
  if (ch.snatSubnetRoutes !== undefined) t.snat = ch.snatSubnetRoutes
  return t
}

/**
 * Checks a change without a running node (prefix syntax, overlaps with `subnet` when known) and
 * writes it to config.toml. Returns the new config. Throws InvalidRouteError / ConfigError.
 */
export async function persistRouteSettings(
  stateDir: string,
  ch: RouteSettingsChange,
  subnet: string | null,
): Promise<Config> {
  const before = routeSettingsOf(await loadConfig(stateDir))
  routingState(
    {
      advertiseRoutes: ch.advertiseRoutes,
      advertiseExitNode: ch.advertiseExitNode,
      acceptRoutes: ch.acceptRoutes,
      exitNode: ch.exitNode,
    },
    before,
    subnet,
  )
  const table = routesTable(ch)
  if (Object.keys(table).length > 0) await updateConfig(stateDir, { routes: table })
  return loadConfig(stateDir)
}

/**
 * Applies a change to a running node: the node checks it (bad prefixes throw before anything
 * changes), an exit node that cannot be used is refused and the old settings come back, then the
 * change is persisted. Returns the new config and the node's view of the exit node.
 */
export async function setRouteSettings(
  node: MeshNode,
  stateDir: string,
  ch: RouteSettingsChange,
): Promise<Config> {
  const before = routeSettingsOf(await loadConfig(stateDir))
  await node.setRouting({
    advertiseRoutes: ch.advertiseRoutes,
    advertiseExitNode: ch.advertiseExitNode,
    acceptRoutes: ch.acceptRoutes,
    exitNode: ch.exitNode,
  })
  const why = node.status().self.exitNodeError
  if (ch.exitNode != null && ch.exitNode !== '' && why != null) {
    await node.setRouting({ exitNode: before.exitNode })
    throw new ExitNodeUnusableError(why)
  }
  try {
    return await persistRouteSettings(stateDir, ch, node.status().self.network.subnet)
  } catch (err) {
    await node.setRouting({
      advertiseRoutes: before.advertiseRoutes,
      advertiseExitNode: before.advertiseExitNode,
      acceptRoutes: before.acceptRoutes,
      exitNode: before.exitNode,
    })
    throw err
  }
}

/** `set` without a daemon: checked against the saved policy's subnet (when there is one), saved. */
export async function saveRouteSettingsOffline(state: StateDir, ch: RouteSettingsChange): Promise<Config> {
  const bytes = await state.readPolicy().catch(() => null)
  const d = bytes == null ? null : decodePolicy(bytes)
  return persistRouteSettings(state.dir, ch, d?.ok === true ? d.value.body.subnet : null)
}
