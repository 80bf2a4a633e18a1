export { socketToConnection } from './reachability/socket-conn.ts'
