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
export { type AuditEvent, type AuditSink, NULL_AUDIT } from './audit.ts'
export {
  AUDIT_FILE,
  type AuditLine,
  AuditLog,
  type AuditVerifyResult,
  GENESIS,
  readAudit,
  verifyAudit,
} from './audit-log.ts'
export { DAEMON_ENTRY, DAEMON_ENV, DAEMON_NODE_FLAGS } from './client.ts'
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
  type CallContext,
  CONTROLLER_METHODS,
  Controller,
  type ControllerHooks,
  type ControllerInit,
  type ControllerMethod,
  createController,
  listenPort,
  localContext,
  readAclText,
} from './controller.ts'
export { createDaemon, type Daemon, type DaemonComponents, type DaemonInit } from './daemon.ts'
export { type OpenDevice, type OpenDeviceInit, type OverlayDevice, openTunDevice } from './device.ts'
export { parseDuration } from './duration.ts'
export * from './errors.ts'
export { hostIPv4Addresses, hostRoutes, parseIpRoutes } from './host.ts'
export {
  type FailResult,
  LockedOutError,
  Lockout,
  type LockoutInit,
  logAuthFailure,
  UNLOCK_LOCKOUT_FILE,
} from './lockout.ts'
export type { DnsStatus } from './magic-dns.ts'
export {
  BackupNeedsProtectedNetworkError,
  isOwnerBackup,
  type OwnerBackup,
  OwnerBackupFileError,
  openOwnerBackup,
  sealOwnerBackup,
  WrongBackupPassphraseError,
} from './owner-backup.ts'
export {
  DEFAULT_SCRYPT,
  decryptOwnerKey,
  encryptOwnerKey,
  OwnerKeyFileError,
  OwnerKeyIsNodeKeyError,
  WeakPassphraseError,
} from './owner-key.ts'
export {
  NotProtectedError,
  OWNER_KEY_FILE,
  OwnerKeyLock,
  type OwnerLock,
  OwnerLockedError,
  WrongPassphraseError,
} from './owner-lock.ts'
export {
  BackupOtherNetworkError,
  NewestPolicyUnknownError,
  RevokedNodeRestoreError,
} from './owner-restore.ts'
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
export { guardPassphrase } from './unlock.ts'
