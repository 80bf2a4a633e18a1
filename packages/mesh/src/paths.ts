export { type DirectFailure, isRelayed, Paths, pingConnection } from './reachability/paths.ts'
