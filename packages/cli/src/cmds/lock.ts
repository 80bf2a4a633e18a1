/**
 * `meshlan unlock`, `meshlan lock`: the owner key of a protected network, in the running daemon's
 * memory only (docs/admin-security.md). Both need the daemon: it holds the key, offline there is
 * nothing to unlock.
 */
import type { Command } from 'commander'
import { ctx, err, json, out } from '../io.ts'
import { readPassphrase } from '../passphrase.ts'

export function registerLock(program: Command): void {
  program
    .command('unlock')
    .description("decrypt the owner key in the daemon's memory, so admin actions can be signed")
    .option('--passphrase-file <file>', 'read the passphrase from FILE, or from stdin with -')
    .action(async (o: { passphraseFile?: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const passphrase = await readPassphrase({
        file: o.passphraseFile,
        option: '--passphrase-file',
        prompt: 'owner key passphrase',
      })
      const r = await client.call('unlock', { passphrase })
      if (asJson) json(r)
      else out('unlocked: admin actions are signed until `meshlan lock` (or [admin] auto_lock)')
    })
  program
    .command('lock')
    .description('forget the decrypted owner key: admin actions are refused until `meshlan unlock`')
    .option('--status', 'only print whether the owner key is protected and locked')
    .action(async (o: { status?: boolean }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      if (o.status === true) {
        const s = await client.call('lock-status', {})
        if (asJson) return json(s)
        if (!s.protected) out('not protected: the owner key has no passphrase (nothing to lock)')
        else out(s.locked ? 'locked' : 'unlocked')
        return
      }
      const r = await client.call('lock', {})
      if (asJson) json(r)
      else {
        out('locked')
        err('the node keeps routing; `meshlan unlock` for the next admin action')
      }
    })
}
