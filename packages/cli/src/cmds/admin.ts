/**
 * `meshlan admin bootstrap`, `meshlan admin totp enable|confirm|disable`: the admin API's accounts
 * (docs/admin-api.md), through the daemon's control socket — root on the box needs no password.
 */
import { createInterface } from 'node:readline/promises'
import type { Command } from 'commander'
import { ctx, err, json, out, UsageError } from '../io.ts'

/** One line from stdin (the prompt on stderr, so stdout stays clean for --json). */
async function prompt(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false })
  try {
    process.stderr.write(question)
    return (await rl.question('')).trim()
  } finally {
    rl.close()
  }
}

/** `--otp CODE`, else a prompt on a terminal; a script without a terminal must pass --otp. */
async function codeOf(o: { otp?: string }, what: string): Promise<string> {
  if (o.otp != null && o.otp !== '') return o.otp
  if (!process.stdin.isTTY) throw new UsageError(`${what}: pass --otp CODE (no terminal to ask on)`)
  return prompt(`${what}: the 6-digit code from your authenticator (or a recovery code): `)
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('the admin API: first account, TOTP (docs/admin-api.md)')
  admin
    .command('bootstrap')
    .description('print a one-time token (valid 1 h) for POST /api/bootstrap, which creates the first admin')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.call('adminBootstrap', {})
      if (asJson) return json(r)
      out(r.token)
      err(
        `valid until ${new Date(r.expiresAt).toISOString()}, once: POST /api/bootstrap ` +
          '{"token","username","password"} on the admin API (default http://127.0.0.1:7947)',
      )
    })

  const totp = admin.command('totp').description('TOTP second factor for an admin account')
  totp
    .command('enable')
    .description(
      'start TOTP: prints the otpauth:// URI, a QR code and 10 recovery codes, then asks for a first code',
    )
    .option('--user <name>', 'the admin account (default: the only one)')
    // the first code comes from the global --otp, instead of a prompt (or `totp confirm` later)
    .action(async (u: { user?: string }, cmd: Command) => {
      const o = { ...u, otp: cmd.optsWithGlobals<{ otp?: string }>().otp }
      const { client, json: asJson } = ctx(cmd)
      const r = await client.call('adminTotpBegin', { username: o.user ?? null })
      if (asJson) json(r)
      else {
        const { default: QRCode } = await import('qrcode')
        out(r.uri)
        err(await QRCode.toString(r.uri, { type: 'terminal', small: true }))
        out(`secret (for manual entry): ${r.secret}`)
        out('recovery codes (each works once; store them offline, they are not shown again):')
        for (const c of r.recoveryCodes) out(`  ${c}`)
      }
      if (o.otp == null && !process.stdin.isTTY) {
        err('confirm within 10 minutes: meshlan admin totp confirm CODE')
        return
      }
      const code = await codeOf(o, 'confirm TOTP')
      await client.call('adminTotpConfirm', { username: r.username, code })
      err(`TOTP is on for ${r.username}: login and every change through the API now need a code`)
    })
  totp
    .command('confirm <code>')
    .description('turn TOTP on with a first code from the authenticator (after `totp enable`)')
    .option('--user <name>', 'the admin account (default: the only one)')
    .action(async (code: string, o: { user?: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.call('adminTotpConfirm', { username: o.user ?? null, code })
      if (asJson) json(r)
      else err(`TOTP is on for ${r.username}`)
    })
  totp
    .command('disable')
    .description('turn TOTP off (needs a current code or a recovery code)')
    .option('--user <name>', 'the admin account (default: the only one)')
    // a current code or a recovery code: the global --otp, else a prompt
    .action(async (u: { user?: string }, cmd: Command) => {
      const o = { ...u, otp: cmd.optsWithGlobals<{ otp?: string }>().otp }
      const { client, json: asJson } = ctx(cmd)
      const code = await codeOf(o, 'disable TOTP')
      const r = await client.call('adminTotpDisable', { username: o.user ?? null, code })
      if (asJson) json(r)
      else err(`TOTP is off for ${r.username}`)
    })
}
