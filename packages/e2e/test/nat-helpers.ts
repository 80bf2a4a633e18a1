/**
 * Shared by the NAT lab tests (nat*.test.ts): what netcheck says, a member's path to a peer, and
 * the fault and "prove it is direct" measurements on ping output.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '@meshlan/lab'
import type { MeshHost, MeshLab } from '../src/index.ts'

export interface Netcheck {
  relay: boolean
  relayMode: string
  relayReason: string
  relays: Array<{ peerId: string; name: string; rttMs: number | null; reserved: boolean }>
  natPreservesPort: boolean | null
  natMapping: string | null
  behindNat: boolean | null
  nat: { kind: string; reason: string }
  observed: string[]
  portMapping: {
    enabled: boolean
    state: string
    mapping: {
      protocol: string
      gateway: string
      internal: string
      external: string
      mappedAt: number
      expiresAt: number
    } | null
  }
}

export async function peerPath(from: MeshHost, name: string) {
  const s = await from.status()
  return s.peers.find((p) => p.name === name) as (typeof s.peers)[number] & {
    via?: string | null
    why?: string | null
  }
}

/**
 * Waits until `from` reports a direct path to `name` and returns the ms since `since` (the time to
 * direct the NAT tests print and the matrix measures).
 */
export function msUntilDirect(
  from: MeshHost,
  name: string,
  since: number,
  opts: { timeoutMs: number; intervalMs: number; what: string; peer?: MeshHost },
): Promise<number> {
  return waitFor(
    async () => ((await peerPath(from, name))?.path === 'direct' ? Date.now() - since : false),
    opts,
  ).catch(async (err: Error) => {
    // a rare CI failure must say what each side tried
    await explainPath(opts.what, from, name)
    if (opts.peer) await explainPath(opts.what, opts.peer, from.name)
    throw err
  })
}

/**
 * For a failed path wait: `h`'s status entry for `other`, every punch and path line of its log
 * (attempts, reasons, retries) and the log's last lines.
 */
export async function explainPath(what: string, h: MeshHost, other: string): Promise<void> {
  console.log(`# ${what}: ${h.name}'s entry for ${other}: ${JSON.stringify(await peerPath(h, other))}`)
  const log = readFileSync(join(h.state, 'daemon.log'), 'utf8').split('\n')
  const punch = log.filter((l) => /punch|dcutr|direct|relay/i.test(l)).slice(-30)
  console.log(`# ${h.name}'s punch and path lines (last 30):\n${punch.join('\n')}`)
  console.log(`# ${h.name}'s log, last 40 lines:\n${log.slice(-40).join('\n')}`)
}

export async function reserved(n: MeshHost, count = 1): Promise<boolean> {
  const nc = await n.json<Netcheck>(['netcheck'])
  return nc.relays.filter((r) => r.reserved).length >= count
}

/** The replies in `ping -D` output: icmp_seq and arrival time (epoch seconds, `Date.now()`'s clock). */
export function pingReplies(output: string): Array<{ seq: number; t: number }> {
  const seen = new Set<number>()
  const out: Array<{ seq: number; t: number }> = []
  for (const m of output.matchAll(/^\[(\d+\.\d+)\].*icmp_seq=(\d+).*time=/gm)) {
    const seq = Number(m[2])
    if (seen.has(seq)) continue // a duplicate
    seen.add(seq)
    out.push({ seq, t: Number(m[1]) })
  }
  return out
}

/** Longest gap (ms) between consecutive replies of `ping -D` output (reported, not asserted). */
export function longestGap(output: string): number {
  const ts = pingReplies(output).map((r) => r.t * 1000)
  let gap = 0
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i] - ts[i - 1])
  return gap
}

/** Replies counted in `ping` output (the summary line), 0 when there is none. */
export function replies(output: string): number {
  return Number(/(\d+) (?:packets )?received/.exec(output)?.[1] ?? 0)
}

export interface FaultPing {
  /** ping's exit status: with `allReplies`, 0 only when every packet was answered. */
  code: number | null
  /** From just before the fault to the first reply that arrived after the fault was in force; null: none. */
  recoveryMs: number | null
  /** How long applying the fault took (the fault is in force somewhere in that span). */
  faultMs: number
  /** Packets sent after the allowed recovery window, and the replies to them. */
  expected: number
  got: number
  /** Longest gap between arrived replies (reported only: it cannot see traffic that never came back). */
  gap: number
  output: string
}

/**
 * Pings `toIp` from `from` at 10/s, applies `fault` once replies flow, and measures from the fault
 * (`Date.now()` right before it, the clock of `ping -D`'s timestamps) to the first reply that
 * arrived after the fault was in force (after `fault` returned: a reply in flight while it was
 * being applied proves nothing). `windowMs` is the recovery allowed: the packets sent after it
 * are `expected`, their replies `got`. With `allReplies`, ping runs with a deadline, so its exit
 * status is 0 only if every packet was answered.
 */
export async function pingAcrossFault(
  from: MeshHost,
  toIp: string,
  opts: { count: number; windowMs: number; allReplies?: boolean },
  fault: () => unknown,
): Promise<FaultPing> {
  const args = ['-D', '-i', '0.1', '-c', String(opts.count), '-W', '1']
  if (opts.allReplies === true) args.push('-w', String(Math.ceil(opts.count / 10) + 10))
  const ping = from.host.spawn('ping', [...args, toIp])
  await waitFor(() => pingReplies(ping.output()).length >= 5, {
    timeoutMs: 10_000,
    intervalMs: 20,
    what: 'replies before the fault',
  })
  const t0 = Date.now() / 1000
  await fault()
  const t1 = Date.now() / 1000
  const exit = await ping.exited
  const output = ping.output()
  const rs = pingReplies(output)
  const first = rs.find((r) => r.t > t1)
  // the last packet answered before the fault; the ones after it plus the window are `expected`
  const seqAtFault = Math.max(0, ...rs.filter((r) => r.t <= t0).map((r) => r.seq))
  const lastWindowSeq = seqAtFault + Math.ceil(opts.windowMs / 100)
  return {
    code: exit.code,
    recoveryMs: first == null ? null : (first.t - t0) * 1000,
    faultMs: (t1 - t0) * 1000,
    expected: Math.max(0, opts.count - lastWindowSeq),
    got: rs.filter((r) => r.seq > lastWindowSeq).length,
    gap: longestGap(output),
    output,
  }
}

/** Asserts a fault run: traffic came back within the window and at least 80 % of what was sent after it. */
export function assertRecovered(r: FaultPing, windowMs: number, what: string): void {
  assert.notEqual(r.recoveryMs, null, `${what}: no reply at all after the fault\n${r.output}`)
  assert.ok(
    (r.recoveryMs ?? 0) < windowMs,
    `${what}: first reply ${r.recoveryMs?.toFixed(0)} ms after the fault`,
  )
  assert.ok(r.expected >= 10, `${what}: only ${r.expected} packets sent after the window`)
  assert.ok(r.got >= 0.8 * r.expected, `${what}: only ${r.got}/${r.expected} replies after the window`)
}

/**
 * Proves a path is direct: every relay's namespace drops all traffic (both ways, IPv4 and IPv6)
 * while `from` pings `toIp` for `seconds` at 10/s; returns the replies and the longest gap. The
 * rules go again afterwards, whatever happened.
 */
export async function pingWithRelaysBlocked(
  ml: MeshLab,
  from: MeshHost,
  toIp: string,
  seconds = 3,
  relayNames: readonly string[] = ['relay1', 'relay2'],
): Promise<{ sent: number; received: number; gap: number }> {
  const relays = relayNames.map((n) => ml.node(n).host)
  const rules = [
    ['INPUT', '-j', 'DROP'],
    ['OUTPUT', '-j', 'DROP'],
  ]
  const tools = ['iptables', 'ip6tables']
  for (const h of relays)
    for (const tool of tools)
      for (const r of rules) {
        const res = await h.exec(tool, ['-I', ...r])
        assert.equal(res.code, 0, res.stderr)
      }
  try {
    const sent = seconds * 10
    const p = await from.exec('ping', ['-D', '-i', '0.1', '-c', String(sent), '-W', '1', toIp], 60_000)
    return { sent, received: replies(p.stdout), gap: longestGap(p.stdout) }
  } finally {
    for (const h of relays) for (const tool of tools) for (const r of rules) await h.exec(tool, ['-D', ...r])
  }
}

export function daemonPid(n: MeshHost): number {
  return Number(readFileSync(join(n.state, 'daemon.pid'), 'utf8').trim())
}

/** Established TCP connections in `n`'s namespace as `local peer` pairs (`ss -Htn`). */
export async function tcpPairs(n: MeshHost): Promise<Array<{ local: string; peer: string }>> {
  const r = await n.exec('ss', ['-Htn', 'state', 'established'])
  assert.equal(r.code, 0, r.stderr)
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map((f) => ({ local: f[2], peer: f[3] }))
}
