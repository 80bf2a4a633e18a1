/** `meshlan key create|list|revoke` (owner only). */
import { parseDuration } from '@meshlan/daemon/client'
import type { Command } from 'commander'
import { table, when } from '../format.ts'
import { ctx, err, json, out, readText, UsageError } from '../io.ts'

interface KeyCreateOptions {
  acl?: string
  allowAll?: boolean
  expires?: string
  memberExpires?: string
  reusable?: boolean
  maxMembers?: string
  autoApproveRoutes?: string
  autoApproveExit?: boolean
  tags?: string
  qr?: boolean
}

export function registerKey(program: Command): void {
  const key = program.command('key').description('mesh keys (owner only)')
  key
    .command('create <name>')
    .description('create a mesh key; prints its join string')
    .option('--acl <file>', 'ACL file (JSON, see docs/acl.md); without it the key reaches nothing')
    .option('--allow-all', 'no ACL: members of the key may reach everything (explicitly)')
    .option(
      '--expires <duration>',
      'the key can be used to join until e.g. 24h or 7d from now (default: never)',
    )
    .option(
      '--member-expires <duration>',
      'every membership of the key ends e.g. 30d from now, bound or not (default: never)',
    )
    .option('--reusable', 'allow several nodes to join with it (default: one use)')
    .option('--max-members <n>', 'most nodes the key admits (default: 1, or 32 with --reusable)')
    .option(
      '--auto-approve-routes <cidrs>',
      "approve members' offers of these prefixes (or inside them) on sight",
    )
    .option('--auto-approve-exit', "approve members' offers to be an exit node on sight")
    .option('--tags <tags>', 'comma-separated tags (default: the key name)')
    .option('--qr', 'also print the join string as a QR code on stderr')
    .action(async (name: string, o: KeyCreateOptions, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      if (o.acl != null && o.allowAll === true)
        throw new UsageError('--acl and --allow-all exclude each other: pass one of them')
      let expiresAt: number | null = null
      if (o.expires != null) {
        const d = parseDuration(o.expires)
        if (!d.ok) throw new UsageError(`--expires: ${d.reason}`)
        expiresAt = Date.now() + d.value
      }
      let memberExpiresAt: number | null = null
      if (o.memberExpires != null) {
        const d = parseDuration(o.memberExpires)
        if (!d.ok) throw new UsageError(`--member-expires: ${d.reason}`)
        memberExpiresAt = Date.now() + d.value
      }
      const aclText = o.acl != null ? await readText(o.acl) : null
      if (aclText != null) {
        const { formatAclIssues, parseAcl } = await import('@meshlan/mesh')
        const v = parseAcl(aclText)
        if (!v.ok) throw new UsageError(`${o.acl} is not a valid ACL:\n${formatAclIssues(v.errors)}`)
      }
      const r = await client.control('keyCreate', {
        name,
        aclText,
        expiresAt,
        reusable: o.reusable === true,
        maxMembers: o.maxMembers != null ? Number(o.maxMembers) : null,
        autoApprove:
          o.autoApproveRoutes != null || o.autoApproveExit === true
            ? {
                routes: (o.autoApproveRoutes ?? '')
                  .split(',')
                  .map((c) => c.trim())
                  .filter((c) => c !== ''),
                exit: o.autoApproveExit === true,
              }
            : null,
        tags: o.tags != null ? o.tags.split(',').map((t) => t.trim()) : null,
        memberExpiresAt,
        allowAll: o.allowAll === true,
      })
      if (asJson) json(r)
      else out(r.joinString)
      if (aclText == null && o.allowAll !== true)
        err(
          'this key has no ACL and reaches nothing: grant with `meshlan acl set NAME FILE` (or --allow-all)',
        )
      if (o.qr) {
        const { default: QRCode } = await import('qrcode') // only for --qr: not a start-up cost
        err(await QRCode.toString(r.joinString, { type: 'terminal', small: true }))
      }
    })
  key
    .command('refresh')
    .argument('<join-string>', 'a join string of a live key (its secret exists only there)')
    .description("print the key's join string again, naming today's reachable members (relays first)")
    .action(async (joinString: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('keyRefresh', { joinString })
      if (asJson) json(r)
      else out(r.joinString)
    })
  key
    .command('list')
    .description('list mesh keys')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('keyList', {})
      if (asJson) return json(r)
      if (r.keys.length === 0) out('no mesh keys: create one with `meshlan key create NAME`')
      else
        out(
          table(
            ['NAME', 'TAGS', 'USE', 'CLAIMED BY', 'CREATED', 'JOIN UNTIL', 'MEMBERS UNTIL'],
            r.keys.map((k) => [
              k.name,
              k.tags.join(','),
              k.reusable ? 'reusable' : 'one-use',
              k.claimedBy ?? '-',
              when(k.createdAt),
              when(k.expiresAt),
              when(k.memberExpiresAt ?? null),
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
}
