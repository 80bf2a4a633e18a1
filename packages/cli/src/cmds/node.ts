/** `meshlan node revoke` (owner only). */
import type { Command } from 'commander'
import { ctx, err, json, out } from '../io.ts'

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('nodes (owner only)')
    .command('revoke <target>')
    .description('revoke a node by name or peer id')
    .option('--with-key', 'also revoke the key it joined with (its join string admits nobody again)')
    .action(async (target: string, o: { withKey?: boolean }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('nodeRevoke', { target, withKey: o.withKey === true })
      if (asJson) json(r)
      else
        out(
          `revoked node ${r.name ?? r.peerId} (${r.peerId}${r.keyRevoked == null ? '' : `, key ${r.keyRevoked}`}, policy v${r.version})`,
        )
      if (r.warning != null) err(r.warning)
    })
}
