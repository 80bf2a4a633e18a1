/** `meshlan network create`, `meshlan network protect`, backup and restore (network-backup.ts). */
import type { Command } from 'commander'
import { ctx, err, json, out } from '../io.ts'
import { oneStdin, readPassphrase } from '../passphrase.ts'
import { registerNetworkContinuity } from './network-backup.ts'

export function registerNetwork(program: Command): void {
  const network = program.command('network').description('networks')
  network
    .command('create <name>')
    .description('become the owner of a new network')
    .option('--subnet <cidr>', 'overlay subnet inside 10/8, 172.16/12 or 192.168/16 (default 10.144.0.0/16)')
    .option('--force', "accept a public or CGNAT subnet, or one overlapping the host's routes")
    .option(
      '--passphrase-file <file>',
      'protect the owner key: a separate signing key, encrypted with the passphrase in FILE (- for stdin)',
    )
    .option('--protect', 'protect the owner key with a passphrase asked on the terminal')
    .action(
      async (
        name: string,
        o: { subnet?: string; force?: boolean; passphraseFile?: string; protect?: boolean },
        cmd: Command,
      ) => {
        const { client, json: asJson } = ctx(cmd)
        const passphrase =
          o.passphraseFile != null || o.protect === true
            ? await readPassphrase({
                file: o.passphraseFile,
                option: '--passphrase-file',
                prompt: 'new owner key passphrase',
                confirm: true,
              })
            : null
        await client.state.initIdentity()
        const r = await client.control('networkCreate', {
          name,
          subnet: o.subnet ?? null,
          force: o.force === true,
          passphrase,
        })
        if (asJson) json(r)
        else {
          out(`created network ${r.name} (${r.networkId}), subnet ${r.subnet}; this node is its owner`)
          if (r.protected)
            err(
              'the owner key is encrypted in owner.key: the daemon starts locked, `meshlan unlock` before admin actions',
            )
          err('next: `meshlan up`, then `meshlan key create NAME` for each member')
        }
      },
    )
  network
    .command('protect')
    .description("change the owner key's passphrase (a network created with --passphrase-file)")
    .option('--passphrase-file <file>', 'the new passphrase from FILE (- for stdin); default: asked twice')
    .option(
      '--old-passphrase-file <file>',
      'the current passphrase from FILE (- for stdin); not needed while the daemon is unlocked',
    )
    .action(async (o: { passphraseFile?: string; oldPassphraseFile?: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      oneStdin(o.passphraseFile, o.oldPassphraseFile)
      let oldPassphrase: string | null = null
      // the current passphrase is needed unless the daemon holds the key (or there is none: the
      // controller then says why this network cannot be protected)
      let needOld: boolean
      if (await client.daemonRunning()) {
        const s = await client.call('lock-status', {})
        needOld = s.protected && s.locked
      } else {
        const { OWNER_KEY_FILE } = await import('@meshlan/daemon')
        const { existsSync } = await import('node:fs')
        needOld = existsSync(`${client.state.dir}/${OWNER_KEY_FILE}`)
      }
      if (o.oldPassphraseFile != null || needOld) {
        oldPassphrase = await readPassphrase({
          file: o.oldPassphraseFile,
          option: '--old-passphrase-file',
          prompt: 'current owner key passphrase',
        })
      }
      const passphrase = await readPassphrase({
        file: o.passphraseFile,
        option: '--passphrase-file',
        prompt: 'new owner key passphrase',
        confirm: true,
      })
      const r = await client.control('networkProtect', { passphrase, oldPassphrase })
      if (asJson) json(r)
      else out(`owner key re-encrypted with the new passphrase in ${r.file}`)
    })
  registerNetworkContinuity(network)
}
