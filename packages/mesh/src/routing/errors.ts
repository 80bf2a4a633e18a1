/**
 * Named errors of subnet routes and exit nodes, one class per condition. Messages say what to do
 * next. (Kept beside the routing code; re-exported from the package index with the others.)
 */
import { MeshError } from '../errors.ts'

export class InvalidRouteError extends MeshError {
  constructor(route: string, reason: string) {
    super(
      'ERR_INVALID_ROUTE',
      `route "${route}" is not usable: ${reason}; give a private IPv4 network like 192.168.1.0/24, or "exit"`,
    )
    this.name = 'InvalidRouteError'
  }
}

export class RouteOverlapsOverlayError extends MeshError {
  constructor(route: string, subnet: string) {
    super(
      'ERR_ROUTE_OVERLAPS_OVERLAY',
      `route ${route} overlaps the overlay subnet ${subnet}: members are reached directly; ` +
        'route only LANs outside it',
    )
    this.name = 'RouteOverlapsOverlayError'
  }
}

export class RouteNotAdvertisedError extends MeshError {
  constructor(node: string, route: string) {
    super(
      'ERR_ROUTE_NOT_ADVERTISED',
      route === 'exit'
        ? `node "${node}" does not offer to be an exit node: run \`meshlan set --advertise-exit-node\` on it first`
        : `node "${node}" does not advertise ${route}: run \`meshlan set --advertise-routes ${route}\` on it first`,
    )
    this.name = 'RouteNotAdvertisedError'
  }
}

export class RouteNotApprovedError extends MeshError {
  constructor(node: string, route: string) {
    super(
      'ERR_ROUTE_NOT_APPROVED',
      `${route} of node "${node}" is not approved, so there is nothing to revoke: see \`meshlan route list\``,
    )
    this.name = 'RouteNotApprovedError'
  }
}

export class TooManyRoutesError extends MeshError {
  constructor(max: number) {
    super(
      'ERR_TOO_MANY_ROUTES',
      `the policy holds its ${max} route approvals: revoke unused ones (\`meshlan route revoke\`) first`,
    )
    this.name = 'TooManyRoutesError'
  }
}
