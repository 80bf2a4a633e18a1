/**
 * `meshlan network backup FILE`, `meshlan network restore FILE`: owner continuity for a protected
 * network (docs/admin-security.md, "Owner continuity"). The daemon (or, for a backup, the offline
 * controller) does the work; the CLI only reads passphrases and the file, and writes the backup.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { ctx, err, json, out, UsageError } from '../io.ts'
import { oneStdin, readPassphrase } from '../passphrase.ts'

export function registerNetworkContinuity(network: Command): void {
  network
    .command('backup [file]')
    .description(
      'write the owner key, encrypted with a backup passphrase, to FILE (0600): keep it off this box; ' +
        'or, with --phrase, print it as 24 words to write on paper',
    )
    .option('--phrase', 'print the owner key as a 24-word recovery phrase instead of writing a file')
    .option('--passphrase-file <file>', 'the backup passphrase from FILE (- for stdin); default: asked twice')
    .option(
      '--owner-passphrase-file <file>',
      "the owner key's passphrase from FILE (- for stdin); not needed while the daemon is unlocked",
    )
    .action(
      async (
        file: string | undefined,
        o: { phrase?: boolean; passphraseFile?: string; ownerPassphraseFile?: string },
        cmd: Command,
      ) => {
        const { client, json: asJson } = ctx(cmd)
        oneStdin(o.passphraseFile, o.ownerPassphraseFile)
        if ((file == null) !== (o.phrase === true))
          throw new UsageError(
            'give a FILE to write the backup to, or --phrase for the recovery phrase (not both)',
          )
        let isProtected: boolean
        let needOwner: boolean
        if (await client.daemonRunning()) {
          const s = await client.call('lock-status', {})
          isProtected = s.protected
          needOwner = s.protected && s.locked
        } else {
          const { OWNER_KEY_FILE } = await import('@meshlan/daemon')
          isProtected = existsSync(`${client.state.dir}/${OWNER_KEY_FILE}`)
          needOwner = isProtected // offline the key is only on disk, encrypted
        }
        // unprotected: the controller refuses with what to do instead, before any passphrase is asked
        if (!isProtected) await client.control('networkBackup', { passphrase: '' })
        const ownerPassphrase =
          o.ownerPassphraseFile != null || needOwner
            ? await readPassphrase({
                file: o.ownerPassphraseFile,
                option: '--owner-passphrase-file',
                prompt: 'owner key passphrase',
              })
            : null
        if (o.phrase === true) {
          const r = await client.control('networkPhrase', { ownerPassphrase })
          if (asJson) return json(r)
          const words = r.phrase.split(' ')
          for (let i = 0; i < words.length; i += 6)
            out(
              words
                .slice(i, i + 6)
                .map((w, j) => `${String(i + j + 1).padStart(2)}. ${w.padEnd(9)}`)
                .join(' ')
                .trimEnd(),
            )
          err(
            `the owner key of network ${r.networkId}: whoever reads these words owns the network. Write them on ` +
              'paper and keep it offline; `meshlan network restore --phrase` on a member node recovers the owner',
          )
          return
        }
        const passphrase = await readPassphrase({
          file: o.passphraseFile,
          option: '--passphrase-file',
          prompt: 'backup passphrase (new; needed to restore)',
          confirm: true,
        })
        const r = await client.control('networkBackup', { passphrase, ownerPassphrase })
        const { writeFileAtomic } = await import('@meshlan/daemon')
        const path = resolve(file as string)
        await writeFileAtomic(path, Buffer.from(r.backup, 'base64'), 0o600)
        if (asJson) json({ file: path, networkId: r.networkId, owner: r.owner, version: r.version })
        else {
          out(`owner key of network ${r.networkId} backed up to ${path} (policy version ${r.version})`)
          err(
            'keep it and its passphrase apart, and off this box; `meshlan network restore FILE` on a member node recovers the owner',
          )
        }
      },
    )
  network
    .command('restore [file]')
    .description(
      'make this member node the owner, from a `network backup` file or the recovery phrase (the daemon must run)',
    )
    .option(
      '--phrase',
      'restore from the 24-word recovery phrase instead of a file (asked, or --phrase-file)',
    )
    .option('--phrase-file <file>', 'the recovery phrase from FILE (- for stdin)')
    .option('--passphrase-file <file>', 'the backup passphrase from FILE (- for stdin); default: asked')
    .option(
      '--new-passphrase-file <file>',
      "the passphrase for this node's owner.key from FILE (- for stdin); default: asked twice",
    )
    .action(
      async (
        file: string | undefined,
        o: { phrase?: boolean; phraseFile?: string; passphraseFile?: string; newPassphraseFile?: string },
        cmd: Command,
      ) => {
        const { client, json: asJson } = ctx(cmd)
        oneStdin(o.passphraseFile, o.newPassphraseFile, o.phraseFile)
        const byPhrase = o.phrase === true || o.phraseFile != null
        if ((file == null) !== byPhrase)
          throw new UsageError('give the backup FILE, or --phrase for the recovery phrase (not both)')
        let bytes: Buffer | null = null
        if (file != null) {
          try {
            bytes = await readFile(file)
          } catch (e) {
            throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e})`)
          }
        }
        if (!(await client.daemonRunning()))
          throw new UsageError(
            'restore needs the running daemon of a member node: it must fetch the newest policy from the mesh first (`meshlan up`)',
          )
        const from = byPhrase
          ? {
              phrase: await readPassphrase({
                file: o.phraseFile,
                option: '--phrase-file',
                prompt: 'recovery phrase (24 words)',
              }),
            }
          : {
              backup: (bytes as Buffer).toString('base64'),
              backupPassphrase: await readPassphrase({
                file: o.passphraseFile,
                option: '--passphrase-file',
                prompt: 'backup passphrase',
              }),
            }
        const passphrase = await readPassphrase({
          file: o.newPassphraseFile,
          option: '--new-passphrase-file',
          prompt: "new passphrase for this node's owner key",
          confirm: true,
        })
        const r = await client.call('networkRestore', { ...from, passphrase })
        if (asJson) json(r)
        else {
          out(
            `this node is now the owner's node of network ${r.networkId}: signed policy version ${r.version} ` +
              `(the newest before was ${r.previousVersion}, confirmed by ${r.peersAnswered} member(s))`,
          )
          if (r.revokedOwnerNodes.length > 0)
            err(`the old owner's node is revoked: ${r.revokedOwnerNodes.join(', ')}`)
          err('the owner key is unlocked now; after a restart `meshlan unlock` with the new passphrase')
        }
      },
    )
}
