/**
 * The `meshlan` command line (docs/cli.md). Output for people on stdout, diagnostics on stderr;
 * `--json` gives stable JSON on stdout; exit 0 on success, 1 with a one-line message otherwise.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline/promises'
import {
  Controller,
  createDaemon,
  type KeyInfo,
  loadConfig,
  parseDuration,
  type RevokedKeyInfo,
  resolveStateDir,
} from '@meshlan/daemon'
import { formatAclIssues, type NodeStatus, type PingResult, parseAcl } from '@meshlan/mesh'
import { Command, CommanderError, Option } from 'commander'
import QRCode from 'qrcode'
import pkg from '../package.json' with { type: 'json' }
import { Client } from './client.ts'
import { bytes, ms, table, when } from './format.ts'

export interface GlobalOptions {
  state?: string
  json?: boolean
}

/** An error whose message is already what the user should read. */
export class UsageError extends Error {}

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n')
}
const err = (text: string): void => {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n')
}
const json = (value: unknown): void => out(JSON.stringify(value, null, 2))

function ctx(cmd: Command): { client: Client; json: boolean } {
  const o = cmd.optsWithGlobals<GlobalOptions>()
  return { client: new Client(resolveStateDir(o.state)), json: o.json === true }
}

function statusLine(s: NodeStatus): string {
  const net = s.self.network.name ?? s.self.network.id
  const ip = s.self.ip ?? 'no address yet'
  const why = s.self.member ? '' : ` — not a member yet: ${s.self.reason ?? 'waiting for the policy'}`
  return `${s.self.name} ${ip} in network ${net} (${s.peers.length} peer${s.peers.length === 1 ? '' : 's'})${why}`
}

/** "direct", or "relay via r1 (symmetric-nat)": the path and, when not direct, why. */
function pathText(p: { path: string; via?: string | null; why?: string | null }): string {
  if (p.path === 'direct') return 'direct'
  const via = p.via != null ? ` via ${p.via}` : ''
  const why = p.why != null ? ` (${p.why})` : ''
  return `${p.path}${via}${why}`
}

function humanNetcheck(n: NetcheckResult): string {
  const lines = [
    `listen        ${n.listen.join(' ') || '-'}`,
    `observed      ${n.observed.join(' ') || '- (no member has told us yet)'}`,
    `behind NAT    ${n.behindNat == null ? 'unknown' : n.behindNat ? 'yes' : 'no'}`,
    `NAT mapping   ${n.natMapping ?? '-'}  (keeps the port: ${n.natPreservesPort == null ? 'unknown' : n.natPreservesPort ? 'yes, hole punching can work' : 'no (symmetric): relays carry the traffic'})`,
    `member relay  ${n.relay ? 'yes (this node relays for members)' : 'no'}`,
  ]
  if (n.relays.length === 0)
    lines.push('relays        none in this network: set relay = true on a publicly reachable node')
  else {
    lines.push('relays:')
    lines.push(
      table(
        ['NAME', 'RTT', 'RESERVED', 'PEER'],
        n.relays.map((r) => [r.name, ms(r.rttMs), r.reserved ? 'yes' : 'no', r.peerId]),
      ),
    )
  }
  return lines.join('\n')
}

interface DnsStatusResult {
  enabled: boolean
  mode: string
  applied: boolean
  listen: string[]
  upstreams: string[]
  names: Array<{ name: string; fqdn: string; ip: string }>
  reason: string | null
}

function humanDns(d: DnsStatusResult): string {
  if (!d.enabled) return `MagicDNS off: ${d.reason ?? 'disabled'}`
  const lines = [
    `resolver   ${d.listen.join(' ') || '- (not running yet)'}`,
    `host       ${d.mode}${d.applied ? '' : ' (not applied)'}${d.reason != null ? ` — ${d.reason}` : ''}`,
    `upstreams  ${d.upstreams.join(' ') || '-'}`,
    '',
    table(
      ['NAME', 'IP'],
      d.names.map((n) => [n.fqdn, n.ip]),
    ),
  ]
  return lines.join('\n')
}

interface NetcheckResult {
  listen: string[]
  observed: string[]
  natMapping: string | null
  natPreservesPort: boolean | null
  behindNat: boolean | null
  relay: boolean
  relays: Array<{ peerId: string; name: string; rttMs: number | null; reserved: boolean }>
}

function humanStatus(s: NodeStatus): string {
  const lines = [
    `${s.self.name}  ${s.self.ip ?? '-'}  ${s.self.peerId}`,
    `network ${s.self.network.name ?? '?'} (${s.self.network.id}) ${s.self.network.subnet ?? ''} policy v${s.self.network.policyVersion}` +
      (s.self.key != null ? ` key ${s.self.key}` : ''),
  ]
  if (!s.self.member) lines.push(`not a member: ${s.self.reason ?? 'waiting for the policy'}`)
  lines.push('')
  if (s.peers.length === 0) lines.push('no peers yet')
  else {
    lines.push(
      table(
        ['NAME', 'IP', 'PATH', 'RTT', 'RX', 'TX', 'KEY'],
        s.peers.map((p) => [
          p.name,
          p.ip,
          pathText(p),
          ms(p.rttMs),
          bytes(p.rxBytes),
          bytes(p.txBytes),
          p.key,
        ]),
      ),
    )
  }
  return lines.join('\n')
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (e) {
    throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e}): check the path`)
  }
}

async function promptEnter(question: string): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    await rl.question(question)
  } finally {
    rl.close()
  }
}

export function buildProgram(): Command {
  const program = new Command('meshlan')
  program
    .description('meshlan: a self-hosted peer-to-peer overlay network')
    .version(pkg.version, '-V, --version', 'print the version')
    .option('--state <dir>', 'state directory (env MESHLAN_STATE; default /var/lib/meshlan)')
    .option('--json', 'stable JSON on stdout')
    .showHelpAfterError('(run `meshlan help` for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .exitOverride()

  program
    .command('version')
    .description('print the version')
    .action((_o, cmd: Command) => {
      if (ctx(cmd).json) json({ version: pkg.version, node: process.version })
      else out(`meshlan ${pkg.version} (node ${process.version})`)
    })

  program
    .command('init')
    .description("create this node's identity (idempotent); prints the peer id")
    .option('--name <name>', 'node name (default: the host name)')
    .action(async (o: { name?: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      // local even when a daemon runs: the identity is a file, and the daemon has one already
      const r = await new Controller({ state: client.state }).init({ name: o.name ?? null })
      if (asJson) json({ ...r, stateDir: client.state.dir })
      else {
        err(r.created ? `created identity in ${client.state.dir}` : `identity exists in ${client.state.dir}`)
        out(r.peerId)
      }
    })

  const network = program.command('network').description('networks')
  network
    .command('create <name>')
    .description('become the owner of a new network')
    .option('--subnet <cidr>', 'overlay subnet (default 10.144.0.0/16)')
    .option('--force', "accept a subnet overlapping the host's routes")
    .action(async (name: string, o: { subnet?: string; force?: boolean }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      await client.state.initIdentity()
      const r = await client.control('networkCreate', {
        name,
        subnet: o.subnet ?? null,
        force: o.force === true,
      })
      if (asJson) json(r)
      else {
        out(`created network ${r.name} (${r.networkId}), subnet ${r.subnet}; this node is its owner`)
        err('next: `meshlan up`, then `meshlan key create NAME` for each member')
      }
    })

  const key = program.command('key').description('mesh keys (owner only)')
  key
    .command('create <name>')
    .description('create a mesh key; prints its join string')
    .option('--acl <file>', 'ACL file (JSON, see docs/acl.md; default: reach everything)')
    .option('--expires <duration>', 'expire after e.g. 24h or 7d (default: never)')
    .option('--reusable', 'allow several nodes to join with it (default: one use)')
    .option('--tags <tags>', 'comma-separated tags (default: the key name)')
    .option('--qr', 'also print the join string as a QR code on stderr')
    .action(
      async (
        name: string,
        o: { acl?: string; expires?: string; reusable?: boolean; tags?: string; qr?: boolean },
        cmd: Command,
      ) => {
        const { client, json: asJson } = ctx(cmd)
        let expiresAt: number | null = null
        if (o.expires != null) {
          const d = parseDuration(o.expires)
          if (!d.ok) throw new UsageError(`--expires: ${d.reason}`)
          expiresAt = Date.now() + d.value
        }
        const aclText = o.acl != null ? await readText(o.acl) : null
        if (aclText != null) {
          const v = parseAcl(aclText)
          if (!v.ok) throw new UsageError(`${o.acl} is not a valid ACL:\n${formatAclIssues(v.errors)}`)
        }
        const r = await client.control('keyCreate', {
          name,
          aclText,
          expiresAt,
          reusable: o.reusable === true,
          tags: o.tags != null ? o.tags.split(',').map((t) => t.trim()) : null,
        })
        if (asJson) json(r)
        else out(r.joinString)
        if (o.qr) err(await QRCode.toString(r.joinString, { type: 'terminal', small: true }))
      },
    )
  key
    .command('list')
    .description('list mesh keys')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r: { keys: KeyInfo[]; revoked: RevokedKeyInfo[] } = await client.control('keyList', {})
      if (asJson) return json(r)
      if (r.keys.length === 0) out('no mesh keys: create one with `meshlan key create NAME`')
      else
        out(
          table(
            ['NAME', 'TAGS', 'USE', 'CLAIMED BY', 'CREATED', 'EXPIRES'],
            r.keys.map((k) => [
              k.name,
              k.tags.join(','),
              k.reusable ? 'reusable' : 'one-use',
              k.claimedBy ?? '-',
              when(k.createdAt),
              when(k.expiresAt),
            ]),
          ),
        )
      if (r.revoked.length > 0)
        out(`revoked: ${r.revoked.map((k) => `${k.name} (${when(k.revokedAt)})`).join(', ')}`)
    })
  key
    .command('revoke <name>')
    .description('revoke a mesh key: every node that joined with it leaves the network')
    .action(async (name: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('keyRevoke', { name })
      if (asJson) json(r)
      else out(`revoked key ${r.name} (policy v${r.version})`)
    })

  program
    .command('node')
    .description('nodes (owner only)')
    .command('revoke <target>')
    .description('revoke a node by name or peer id')
    .action(async (target: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('nodeRevoke', { target })
      if (asJson) json(r)
      else out(`revoked node ${r.name ?? r.peerId} (${r.peerId}, policy v${r.version})`)
    })

  const acl = program.command('acl').description('key ACLs (owner only; format in docs/acl.md)')
  acl
    .command('show [key]')
    .description("show a key's ACL (or every key's)")
    .action(async (name: string | undefined, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('aclShow', { key: name ?? null })
      if (asJson) return json(name != null ? r.keys[0] : r)
      if (name != null) return out(JSON.stringify(r.keys[0].acl, null, 2))
      if (r.keys.length === 0) return out('no mesh keys')
      out(r.keys.map((k) => `# ${k.name}\n${JSON.stringify(k.acl, null, 2)}`).join('\n\n'))
    })
  acl
    .command('set <key> <file>')
    .description("replace a key's ACL with a file (validated before it is signed)")
    .action(async (name: string, file: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const text = await readText(file)
      const v = parseAcl(text)
      if (!v.ok) throw new UsageError(`${file} is not a valid ACL:\n${formatAclIssues(v.errors)}`)
      const r = await client.control('aclSet', { key: name, aclText: text })
      if (asJson) json(r)
      else out(`ACL of key ${r.key} updated (policy v${r.version})`)
    })
  acl
    .command('edit <key>')
    .description("edit a key's ACL in $EDITOR (re-opened until it is valid)")
    .action(async (name: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const current = await client.control('aclShow', { key: name })
      const original = JSON.stringify(current.keys[0].acl, null, 2) + '\n'
      const editor = process.env.VISUAL ?? process.env.EDITOR ?? 'vi'
      const dir = await mkdtemp(join(tmpdir(), 'meshlan-acl-'))
      const file = join(dir, `${name}.acl.json`)
      try {
        await writeFile(file, original, { mode: 0o600 })
        for (;;) {
          const r = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' })
          if (r.status !== 0)
            throw new UsageError(`the editor (${editor}) failed: set $EDITOR to a working editor`)
          const text = await readFile(file, 'utf8')
          if (text.trim() === '' || text === original) {
            err('no change: the ACL stays as it was')
            return
          }
          const v = parseAcl(text)
          if (v.ok) {
            const s = await client.control('aclSet', { key: name, aclText: text })
            if (asJson) json(s)
            else out(`ACL of key ${s.key} updated (policy v${s.version})`)
            return
          }
          err(`the ACL is not valid:\n${formatAclIssues(v.errors)}`)
          if (!process.stdin.isTTY)
            throw new UsageError('the ACL was not changed: fix the errors above and run it again')
          await promptEnter('press Enter to edit again, Ctrl-C to abort ')
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

  program
    .command('join <joinstring>')
    .description('join a network with a join string from its owner')
    .option('--name <name>', 'node name (default: the host name)')
    .action(async (joinString: string, o: { name?: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const running = await client.daemonRunning()
      const r = await client.control('join', { joinString, name: o.name ?? null })
      if (asJson) return json({ ...r, daemonRunning: running })
      out(`joined network ${r.networkId} with key ${r.keyName} as ${r.name}`)
      err(running ? 'the daemon is connecting: see `meshlan status`' : 'next: `meshlan up`')
    })

  program
    .command('up')
    .description('start the node (spawns the daemon unless --foreground)')
    .option('--foreground', 'run the daemon in this process, logging to stderr')
    .action(async (o: { foreground?: boolean }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      await client.state.ensure()
      await loadConfig(client.state.dir) // config errors surface here, not in the log
      if (await client.daemonRunning()) {
        err('the meshlan daemon is already running')
      } else if (o.foreground) {
        const daemon = createDaemon({ stateDir: client.state.dir })
        const stop = (): void => void daemon.stop()
        process.once('SIGTERM', stop)
        process.once('SIGINT', stop)
        await daemon.start()
        await daemon.stopped
        return
      } else {
        try {
          await client.spawnDaemon()
        } catch (e) {
          const tail = await client.logTail()
          if (tail !== '') err(`--- last lines of ${client.state.path('log')} ---\n${tail}\n---`)
          throw e
        }
      }
      const info = await client.call<{ pid: number; node: { peerId: string } | null }>('info')
      if (info.node == null) {
        if (asJson) return json({ pid: info.pid, status: null })
        out(`meshlan is up (pid ${info.pid}); this node is in no network yet`)
        err('next: `meshlan network create NAME` or `meshlan join JOINSTRING`')
        return
      }
      const s = await client.call<NodeStatus>('status')
      if (asJson) json({ pid: info.pid, status: s })
      else out(`meshlan is up (pid ${info.pid}): ${statusLine(s)}`)
    })

  program
    .command('down')
    .description('stop the node and wait until the daemon has exited')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      if (!(await client.daemonRunning())) {
        if (asJson) json({ stopped: false, pid: null })
        else err('the meshlan daemon is not running')
        return
      }
      const pid = await client.stopDaemon()
      if (asJson) json({ stopped: true, pid })
      else out(`meshlan is down (pid ${pid} exited)`)
    })

  program
    .command('status')
    .description('this node and its peers')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const s = await client.call<NodeStatus>('status')
      if (asJson) json(s)
      else out(humanStatus(s))
    })

  const dns = program.command('dns').description('MagicDNS: name.mesh for every node')
  dns
    .command('status')
    .description('the resolver, how the host hands .mesh to it, the names and the upstreams')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const d = await client.call<DnsStatusResult>('dns-status')
      if (asJson) json(d)
      else out(humanDns(d))
    })

  program
    .command('netcheck')
    .description("this node's reachability: observed addresses, NAT behaviour, relays and their RTT")
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const n = await client.call<NetcheckResult>('netcheck')
      if (asJson) json(n)
      else out(humanNetcheck(n))
    })

  program
    .command('ping <target>')
    .description('overlay-level ping of a member by name or overlay IP')
    .addOption(new Option('--count <n>', 'number of pings').default('3'))
    .action(async (target: string, o: { count: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const count = Number(o.count)
      if (!Number.isInteger(count) || count < 1 || count > 100) {
        throw new UsageError('--count must be a whole number from 1 to 100')
      }
      const r = await client.call<PingResult>('ping', { target, count })
      if (asJson) json(r)
      if (!r.ok) {
        process.exitCode = 1
        if (!asJson) err(`meshlan: ping ${target}: ${r.reason}`)
        return
      }
      if (!asJson) {
        const path = pathText(r)
        for (const [i, t] of r.rttMs.entries())
          out(`reply from ${r.name} (${r.ip}) via ${path}: seq=${i + 1} time=${ms(t)}`)
        const avg = r.rttMs.reduce((a, b) => a + b, 0) / r.rttMs.length
        out(`${r.rttMs.length}/${count} answered via ${path}, avg ${ms(avg)}`)
      }
    })

  program
    .command('help [command...]')
    .description('show help for meshlan or a command')
    .action((words: string[]) => {
      let c: Command = program
      for (const w of words ?? []) {
        const next = c.commands.find((x) => x.name() === w)
        if (next == null) throw new UsageError(`unknown command ${words.join(' ')}: run \`meshlan help\``)
        c = next
      }
      c.outputHelp()
    })
  program.addHelpCommand(false)

  return program
}

/** Runs the CLI; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram()
  if (argv.length === 0) {
    program.outputHelp()
    return 0
  }
  try {
    await program.parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version'
        ? 0
        : 1
    }
    const msg = (e as Error).message ?? String(e)
    err(`meshlan: ${msg}`)
    if (process.env.MESHLAN_DEBUG) err((e as Error).stack ?? '')
    return 1
  }
}
