/**
 * `meshlan set` and the same flags on `meshlan up`: route and exit-node settings. A running daemon
 * checks and applies them at once and persists them in config.toml; without one they are checked
 * as far as can be offline and saved for the next `meshlan up`.
 */
import type { RouteSettings, RouteSettingsChange } from '@meshlan/daemon/client'
import { type Command, InvalidArgumentError } from 'commander'
import type { Client } from '../client.ts'
import { ctx, err, json, out, UsageError } from '../io.ts'

/** `--flag`, `--flag=true` and `--flag=false` (as Tailscale's boolean flags). */
function bool(v: string | undefined): boolean {
  if (v === undefined || v === 'true') return true
  if (v === 'false') return false
  throw new InvalidArgumentError('must be true or false (e.g. --accept-routes=false)')
}

interface RouteFlags {
  advertiseRoutes?: string
  advertiseExitNode?: boolean | string
  acceptRoutes?: boolean | string
  exitNode?: string
  exitNodeAllowLanAccess?: boolean | string
  snatSubnetRoutes?: boolean | string
}

/** Adds the route and exit-node flags to `up` or `set`. */
export function withRouteFlags(cmd: Command): Command {
  return cmd
    .option('--advertise-routes <cidrs>', 'offer to route these prefixes (comma-separated; "" for none)')
    .option('--advertise-exit-node [bool]', 'offer to be an exit node', bool)
    .option('--accept-routes [bool]', 'use the approved routes other nodes serve', bool)
    .option('--exit-node <name|ip>', 'send all non-local traffic through this node ("" clears it)')
    .option('--exit-node-allow-lan-access [bool]', "with an exit node, keep this host's LAN direct", bool)
    .option('--snat-subnet-routes [bool]', 'source-NAT traffic into advertised prefixes (default true)', bool)
}

/** The change the flags ask for (unset flags: unchanged). */
export function routeChange(o: RouteFlags): RouteSettingsChange {
  const ch: RouteSettingsChange = {}
  if (o.advertiseRoutes !== undefined) {
    ch.advertiseRoutes = o.advertiseRoutes
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
  }
  // commander passes `true` for a bare optional-value flag without calling the parser
  const b = (v: boolean | string | undefined) =>
    v === undefined ? undefined : v === true ? true : bool(String(v))
  if (o.advertiseExitNode !== undefined) ch.advertiseExitNode = b(o.advertiseExitNode)
  if (o.acceptRoutes !== undefined) ch.acceptRoutes = b(o.acceptRoutes)
  if (o.exitNode !== undefined) ch.exitNode = o.exitNode === '' ? null : o.exitNode
  if (o.exitNodeAllowLanAccess !== undefined) ch.exitNodeAllowLanAccess = b(o.exitNodeAllowLanAccess)
  if (o.snatSubnetRoutes !== undefined) ch.snatSubnetRoutes = b(o.snatSubnetRoutes)
  return ch
}

/** Applies a change: live through the daemon when it runs, else saved in config.toml. */
export async function applyRouteChange(
  client: Client,
  ch: RouteSettingsChange,
): Promise<{ settings: RouteSettings; live: boolean }> {
  if (await client.daemonRunning()) return { settings: await client.call('set', ch), live: true }
  await client.state.ensure()
  const { routeSettingsOf, saveRouteSettingsOffline } = await import('@meshlan/daemon')
  return { settings: routeSettingsOf(await saveRouteSettingsOffline(client.state, ch)), live: false }
}

export function describeRouteSettings(s: RouteSettings): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no')
  return [
    `advertise routes: ${s.advertiseRoutes.length === 0 ? '-' : s.advertiseRoutes.join(',')}`,
    `advertise exit node: ${yes(s.advertiseExitNode)}`,
    `accept routes: ${yes(s.acceptRoutes)}`,
    `exit node: ${s.exitNode ?? '-'}${s.exitNode != null && s.exitNodeAllowLanAccess ? ' (LAN access kept)' : ''}`,
    `SNAT into subnet routes: ${yes(s.snatSubnetRoutes)}`,
  ].join('\n')
}

export function registerSet(program: Command): void {
  withRouteFlags(
    program
      .command('set')
      .description('change route and exit-node settings (live on a running daemon; saved in config.toml)'),
  ).action(async (o: RouteFlags, cmd: Command) => {
    const { client, json: asJson } = ctx(cmd)
    const ch = routeChange(o)
    if (Object.keys(ch).length === 0) {
      throw new UsageError('nothing to set: give at least one flag (see `meshlan set --help`)')
    }
    const { settings, live } = await applyRouteChange(client, ch)
    if (!live) err('the daemon is not running: saved in config.toml, applied at `meshlan up`')
    if (asJson) json({ ...settings, live })
    else out(describeRouteSettings(settings))
  })
}
