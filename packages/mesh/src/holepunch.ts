export { candidateAddrs, HolePuncher, type PunchResult } from './reachability/holepunch.ts'
