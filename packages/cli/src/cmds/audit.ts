/**
 * `meshlan audit [--since DURATION] [--verify]`: the audit log (docs/admin-security.md), through
 * the daemon when it runs, else straight from `<state>/audit.log`. `--verify` checks the hash chain
 * and exits 1 naming the first bad line.
 */
import { type AuditEntry, type AuditVerifyInfo, parseDuration } from '@meshlan/daemon/client'
import type { Command } from 'commander'
import type { Client } from '../client.ts'
import { table } from '../format.ts'
import { ctx, err, json, out, UsageError } from '../io.ts'

/** `--since`: a duration back from now (30m, 24h, 7d) or an ISO date/time. */
function sinceMs(text: string): number {
  const d = parseDuration(text)
  if (d.ok) return Date.now() - d.value
  const t = Date.parse(text)
  if (!Number.isNaN(t) && /^\d{4}-\d\d-\d\d/.test(text)) return t
  throw new UsageError(`--since: ${d.reason}, or an ISO date such as 2025-01-31`)
}

/** The audit file offline; its error says what to do when this user cannot read it. */
async function offline<T>(client: Client, fn: (file: string) => Promise<T>): Promise<T> {
  const { AUDIT_FILE } = await import('@meshlan/daemon')
  const { join } = await import('node:path')
  const file = join(client.state.dir, AUDIT_FILE)
  try {
    return await fn(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM')
      throw new UsageError(
        `cannot read ${file}: run as the user the daemon runs as (root), or start the daemon`,
      )
    throw e
  }
}

async function entries(client: Client, since: number | null): Promise<AuditEntry[]> {
  if (await client.daemonRunning()) return (await client.call('audit', { sinceMs: since })).entries
  const { readAudit } = await import('@meshlan/daemon')
  return offline(client, (file) => readAudit(file, since ?? 0))
}

async function verify(client: Client): Promise<AuditVerifyInfo> {
  if (await client.daemonRunning()) return client.call('audit-verify', {})
  const { verifyAudit } = await import('@meshlan/daemon')
  return offline(client, (file) => verifyAudit(file))
}

function detailText(d: AuditEntry['detail']): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
    .join(' ')
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('show the audit log of admin and security events; --verify checks its hash chain')
    .option('--since <when>', 'only events since a duration ago (30m, 24h, 7d) or an ISO date')
    .option('--verify', 'check the chain: exit 1 naming the first changed, inserted or removed line')
    .action(async (o: { since?: string; verify?: boolean }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      if (o.verify === true) {
        if (o.since != null) throw new UsageError('--verify checks the whole log: drop --since')
        const r = await verify(client)
        if (!r.ok) process.exitCode = 1
        if (asJson) return json(r)
        if (r.bad != null) {
          err(`audit log damaged: ${r.bad.file} line ${r.bad.line} ${r.bad.reason}`)
          err('keep the file as evidence; compare it with a copy shipped off the box (journald, syslog)')
          return
        }
        out(`audit log intact: ${r.lines} line(s) chained`)
        if (r.startsMidChain)
          err(
            'note: the chain starts in a rotated-away file; its first line was not checked against its predecessor',
          )
        if (r.truncated != null)
          err(
            `note: ${r.truncated.file} line ${r.truncated.line} has no newline: an append interrupted by a crash (the daemon cuts it off and records audit.truncated)`,
          )
        return
      }
      const list = await entries(client, o.since != null ? sinceMs(o.since) : null)
      if (asJson) return json({ entries: list })
      if (list.length === 0) {
        out(o.since != null ? 'no audit events in that time' : 'no audit events yet')
        return
      }
      out(
        table(
          ['TIME', 'EVENT', 'OK', 'ACTOR', 'SOURCE', 'DETAIL'],
          list.map((e) => [
            e.ts.replace(/\.\d+Z$/, 'Z'),
            e.event,
            e.ok ? 'ok' : 'FAILED',
            e.actor,
            e.source,
            detailText(e.detail),
          ]),
        ),
      )
    })
}
