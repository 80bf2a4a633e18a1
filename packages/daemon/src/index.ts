/**
 * @meshlan/daemon — one meshlan node per state directory, and everything the CLI shares with it.
 *
 * - `createDaemon()` runs a MeshNode with its TUN and a control socket; `DAEMON_ENTRY` is the file
 *   `meshlan up` spawns (`node DAEMON_ENTRY --state DIR`).
 * - `Controller` is the one implementation of network operations (create, keys, ACLs, revocation,
 *   join): run offline by the CLI on the state files, or inside the daemon behind the socket.
 * - `StateDir` is the state directory's layout; `loadConfig()`/`parseConfig()` read config.toml.
 * - `callControl()`/`listenControl()` speak the newline-delimited JSON control protocol; `api.ts`
 *   types every method (`ApiMethods`: params and result), shared by the daemon and the CLI.
 */
export type {
  ApiMethod,
  ApiMethods,
  ApiParams,
  ApiResult,
  ControllerApi,
  ControllerApiMethod,
  ControllerApiMethods,
  DaemonApiMethods,
  DaemonInfo,
  KeyInfo,
  NetcheckResult,
  RevokedKeyInfo,
  RouteSettings,
  RouteSettingsChange,
} from './api.ts'
export {
  type Config,
  type ConfigResult,
  defaultName,
  loadConfig,
  parseConfig,
  updateConfig,
} from './config.ts'
export * from './constants.ts'
export {
  type ControlHandler,
  type ControlListenOptions,
  type ControlRequest,
  type ControlResponse,
  type ControlServer,
  callControl,
  ERR_CONTROL_NOT_PERMITTED,
  errorToWire,
  isListening,
  listenControl,
  notPermittedMessage,
} from './control.ts'
export {
  CONTROLLER_METHODS,
  Controller,
  type ControllerHooks,
  type ControllerInit,
  type ControllerMethod,
  createController,
  listenPort,
  readAclText,
} from './controller.ts'
export { createDaemon, type Daemon, type DaemonComponents, type DaemonInit } from './daemon.ts'
export { type OpenDevice, type OpenDeviceInit, type OverlayDevice, openTunDevice } from './device.ts'
export { parseDuration } from './duration.ts'
export * from './errors.ts'
export { hostIPv4Addresses, hostRoutes, parseIpRoutes } from './host.ts'
export type { DnsStatus } from './magic-dns.ts'
export { EXIT_FATAL, runDaemonProcess } from './process.ts'
export { type ConfigChanges, configChanges } from './reload.ts'
export { routeSettingsOf, saveRouteSettingsOffline } from './route-settings.ts'
export {
  type NetworkState,
  resolveStateDir,
  StateDir,
  type WriteFileAtomicOptions,
  writeFileAtomic,
} from './state.ts'

/**
 * Absolute path of the daemon's entry point (what `meshlan up` runs with node): main.ts from the
 * sources; in the built bundle (scripts/build.mjs: this code inside dist/meshlan.mjs) its sibling
 * dist/meshlan-daemon.mjs.
 */
export const DAEMON_ENTRY: string = new URL(
  import.meta.url.endsWith('.mjs') ? './meshlan-daemon.mjs' : './main.ts',
  import.meta.url,
).pathname

/**
 * Node flags the daemon runs with. A 4 MiB young generation instead of V8's default (16–32 MiB,
 * grown under allocation churn): measured in the lab, RSS 160 → 139 MB idle and 230 → ~175 MB
 * under a saturating iperf3, with no loss of throughput. It matters on a 1 GB Raspberry Pi.
 * scripts/meshlan and scripts/bench/meshlan-tools.sh pass the same flag for `up --foreground`.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']
