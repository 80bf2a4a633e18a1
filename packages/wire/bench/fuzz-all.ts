/**
 * One fuzz command for every parser a remote peer reaches (issue 8). Not part of CI:
 *
 *   node packages/wire/bench/fuzz-all.ts [--n 1000000] [--seed S] [--only NAME[,NAME…]]
 *                                        [--cap NAME=N,…] [--jobs J] [--at I] [--list]
 *
 * Each target (see --list) gets n seeded inputs: valid encodings made with the real encoders,
 * then mutated (bit flips, truncation, extension, length-field lies, JSON type swaps, huge
 * numbers, deep nesting, unicode, re-signed garbage) plus random bytes. Invariants for every
 * input: the parser returns a value (never throws); a result holds at most ~16× its input; an
 * input slower than 50 ms three times over is a finding (the slowest is printed either way); an
 * accepted value re-encodes to itself where the format allows; plus each target's own rules
 * (bounds, "nothing accepted that the key did not sign"). Frame type 3 runs through
 * packages/tun/bench/fuzz-vnet.ts (the native checksum/segmentation path, compared with the wire
 * validator), with a rebuilt header checked to be accepted again and stable.
 *
 * Targets run in child processes, `--jobs` at a time (default: the CPU count). Input i of a target
 * depends only on (seed, target, i): `--only NAME --seed S --at I` replays one input. Exit code 1
 * when there is a finding.
 */
import { spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { rebuildVnetHeader, vnetFrameCode } from '../src/index.ts'
import { fixtures } from './fuzz-fixtures.ts'
import { emptySummary, hashName, hex, mix, runTarget, type Summary, type Target } from './fuzz-kit.ts'
import {
  controlTarget,
  dcutrTarget,
  frameTarget,
  headerTarget,
  helloAnswerTarget,
  helloOfferTarget,
  ipv4Target,
} from './fuzz-targets-bytes.ts'
import {
  claimTarget,
  joinTarget,
  policyTarget,
  recordTarget,
  syncRequestTarget,
  syncResponseTarget,
} from './fuzz-targets-signed.ts'
import { gateHelloTarget, policyStoreTarget, recordStoreTarget } from './fuzz-targets-stores.ts'

const NAMES = [
  'ipv4',
  'header',
  'frame',
  'vnet',
  'control',
  'hello-offer',
  'hello-answer',
  'gate-hello',
  'dcutr',
  'claim',
  'record',
  'policy',
  'policy-store',
  'record-store',
  'sync-request',
  'sync-response',
  'join',
] as const

async function targets(): Promise<Map<string, Target<unknown>>> {
  const fx = await fixtures()
  const list = [
    ipv4Target,
    headerTarget,
    frameTarget(fx),
    controlTarget(fx),
    helloOfferTarget(fx),
    helloAnswerTarget(fx),
    gateHelloTarget(fx),
    dcutrTarget,
    claimTarget(fx),
    recordTarget(fx),
    policyTarget(fx),
    policyStoreTarget(fx),
    recordStoreTarget(fx),
    syncRequestTarget(fx),
    syncResponseTarget(fx),
    joinTarget(fx),
  ] as Target<unknown>[]
  return new Map(list.map((t) => [t.name, t]))
}

/** Frame type 3 through the native path: the tun package's fuzzer, with the wire side's rebuild checked too. */
async function runVnet(n: number, seed: number): Promise<Summary> {
  const s = emptySummary('vnet', seed, n)
  let mod: typeof import('../../tun/bench/fuzz-vnet.ts')
  try {
    mod = await import('../../tun/bench/fuzz-vnet.ts')
  } catch (err) {
    s.n = 0
    s.extra = {
      skipped: `the tun addon does not load (${(err as Error).message.slice(0, 120)}): build it with pnpm --filter @meshlan/tun build`,
    }
    return s
  }
  let rebuilt = 0
  const check = (buf: Uint8Array, off: number, len: number, max: number): number => {
    const code = vnetFrameCode(buf, off, len, max)
    if (code === 0) {
      // the header we would hand the kernel: accepted again, and rebuilding it again changes nothing
      const copy = buf.slice(off, off + len)
      rebuildVnetHeader(copy, 0)
      const once = copy.slice(0, 10)
      rebuilt++
      if (vnetFrameCode(copy, 0, len, max) !== 0) bad('rebuild-refused', copy)
      rebuildVnetHeader(copy, 0)
      if (Buffer.compare(once, copy.subarray(0, 10)) !== 0) bad('rebuild-unstable', copy)
    }
    return code
  }
  const bad = (kind: string, frame: Uint8Array): void => {
    s.findings[kind] = (s.findings[kind] ?? 0) + 1
    if (s.examples.length < 20) s.examples.push(`${kind}: ${hex(frame, 64)}`)
  }
  let t0 = performance.now()
  let slow = 0
  const r = mod.fuzzVnet({
    n,
    seed,
    check,
    dump: () => {
      // called once per frame, before it runs: the gap to the next call is that frame's time
      const t = performance.now()
      const ms = t - t0
      if (ms > s.slowest.ms)
        s.slowest = { ms, index: slow, mode: 'native', len: 0, confirmedMs: ms, head: '' }
      slow++
      t0 = t
    },
  })
  s.accepted = r.accepted
  s.rejected = r.n - r.accepted
  for (const [k, v] of Object.entries(r.reasons)) if (k !== 'OK') s.reasons[k] = v
  if (r.findingCount > 0) s.findings.native = r.findingCount
  s.examples.push(...r.findings.map((f) => `native: ${f}`))
  s.ms = r.ms
  s.extra = {
    segments: r.segments,
    wireNativeAgree: `${r.agreement}/${r.compared}`,
    rebuiltChecked: rebuilt,
    note: 'slowest includes the model checks',
  }
  const mem = process.memoryUsage()
  s.heapPeakMB = Math.round(mem.heapUsed / 2 ** 20)
  s.rssPeakMB = Math.round(mem.rss / 2 ** 20)
  return s
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

async function runOne(name: string, n: number, seed: number, at?: number): Promise<Summary> {
  const tseed = mix(seed, hashName(name))
  if (name === 'vnet') return runVnet(n, tseed)
  const t = (await targets()).get(name)
  if (t == null) throw new Error(`no target ${name}: see --list`)
  return runTarget(t, {
    n,
    seed: tseed,
    at,
    progress: (done) => {
      if (done > 0 && done % (1 << 17) === 0) process.stderr.write(`  ${name}: ${done}/${n}\n`)
    },
  })
}

function child(name: string, n: number, seed: number): Promise<Summary> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), '--child', name, '--n', String(n), '--seed', String(seed)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let out = ''
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    p.on('error', reject)
    p.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('FUZZ-RESULT '))
      if (line != null) {
        try {
          return resolve(JSON.parse(line.slice('FUZZ-RESULT '.length)) as Summary)
        } catch {}
      }
      // the process died: that is a finding of its own (a crash, a hang killed, out of memory)
      resolve({
        name,
        seed: mix(seed, hashName(name)),
        n: 0,
        accepted: 0,
        rejected: 0,
        reasons: {},
        modes: {},
        slowest: { ms: 0, index: -1, mode: '', len: 0, confirmedMs: 0, head: '' },
        findings: { 'process-died': 1 },
        examples: [`exit code ${code} signal ${signal}: ${out.slice(-400)}`],
        ms: 0,
        heapPeakMB: 0,
        rssPeakMB: 0,
        extra: {},
      })
    })
  })
}

function print(s: Summary): void {
  const top = Object.entries(s.reasons)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
  const findings = Object.values(s.findings).reduce((a, b) => a + b, 0)
  console.log(
    `\n== ${s.name}  seed ${s.seed}  inputs ${s.n}  accepted ${s.accepted}  rejected ${s.rejected}  ${(s.ms / 1000).toFixed(1)} s  ` +
      `heap≤${s.heapPeakMB} MB rss≤${s.rssPeakMB} MB  findings ${findings}`,
  )
  console.log(
    `   slowest ${s.slowest.ms.toFixed(2)} ms (input #${s.slowest.index}, ${s.slowest.mode}, ${s.slowest.len} B` +
      `${s.slowest.confirmedMs !== s.slowest.ms ? `, re-timed ${s.slowest.confirmedMs.toFixed(2)} ms` : ''})`,
  )
  const modes = Object.entries(s.modes).map(([m, [n, a]]) => `${m} ${a}/${n}`)
  if (modes.length > 0) console.log(`   accepted by mode: ${modes.join(', ')}`)
  for (const [r, c] of top) console.log(`   ${String(c).padStart(8)}  ${r}`)
  if (Object.keys(s.extra).length > 0) console.log(`   ${JSON.stringify(s.extra)}`)
  for (const [k, c] of Object.entries(s.findings)) console.log(`   FINDING ${k}: ${c}`)
  for (const e of s.examples) console.log(`     ${e}`)
}

if (import.meta.main) {
  const childName = arg('child')
  const n = Number(arg('n') ?? 1_000_000)
  const seed = Number(arg('seed') ?? (Date.now() ^ (process.pid << 16)) >>> 0)
  const atArg = arg('at')
  if (childName != null) {
    const s = await runOne(childName, n, seed)
    // only the top reasons travel: the full map of zod messages can be large
    s.reasons = Object.fromEntries(
      Object.entries(s.reasons)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 20),
    )
    // a pipe is written asynchronously: exit only once the line is out
    process.stdout.write(`FUZZ-RESULT ${JSON.stringify(s)}\n`, () => process.exit(0))
    await new Promise(() => {})
  }
  if (process.argv.includes('--list')) {
    const t = await targets()
    for (const name of NAMES)
      console.log(
        `${name.padEnd(14)} ${name === 'vnet' ? 'frame type 3: packages/tun/bench/fuzz-vnet.ts (native checksum/segmentation vs wire validator) + rebuilt header accepted and stable' : t.get(name)?.about}`,
      )
    process.exit(0)
  }
  const only = arg('only')?.split(',') ?? [...NAMES]
  // --cap NAME=N,…: fewer inputs for targets that verify Ed25519 signatures (~0.3 ms each)
  const caps = new Map(
    (arg('cap') ?? '')
      .split(',')
      .filter((x) => x.includes('='))
      .map((x) => [x.split('=')[0], Number(x.split('=')[1])] as const),
  )
  const nOf = (name: string): number => Math.min(n, caps.get(name) ?? n)
  for (const name of only)
    if (!(NAMES as readonly string[]).includes(name)) throw new Error(`no target ${name}: see --list`)
  console.log(
    `fuzz-all: n=${n} per target, seed=${seed} (rerun with --seed ${seed}), targets: ${only.join(' ')}`,
  )
  if (caps.size > 0) console.log(`capped: ${[...caps].map(([k, v]) => `${k}=${v}`).join(' ')}`)
  const t0 = performance.now()
  let results: Summary[]
  if (atArg != null) {
    results = [await runOne(only[0], nOf(only[0]), seed, Number(atArg))]
  } else {
    const jobs = Math.max(1, Number(arg('jobs') ?? availableParallelism()))
    results = []
    const queue = [...only]
    await Promise.all(
      Array.from({ length: Math.min(jobs, queue.length) }, async () => {
        for (let name = queue.shift(); name != null; name = queue.shift()) {
          const s = await child(name, nOf(name), seed)
          process.stderr.write(`done ${name} in ${(s.ms / 1000).toFixed(1)} s\n`)
          print(s) // as each target ends: a later failure loses nothing
          results.push(s)
        }
      }),
    )
    results.sort((a, b) => only.indexOf(a.name) - only.indexOf(b.name))
  }
  if (atArg != null) for (const s of results) print(s)
  const total = results.reduce((a, s) => a + s.n, 0)
  const findings = results.reduce((a, s) => a + Object.values(s.findings).reduce((x, y) => x + y, 0), 0)
  console.log(
    `\nfuzz-all: ${total} inputs over ${results.length} targets in ${((performance.now() - t0) / 1000).toFixed(0)} s, seed ${seed}, findings ${findings}`,
  )
  process.exitCode = findings === 0 ? 0 : 1
}
