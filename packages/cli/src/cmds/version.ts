/** `meshlan version`. */
import type { Command } from 'commander'
import pkg from '../../package.json' with { type: 'json' }
import { ctx, json, out } from '../io.ts'

export const VERSION: string = pkg.version

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the version')
    .action((_o, cmd: Command) => {
      if (ctx(cmd).json) json({ version: VERSION, node: process.version })
      else out(`meshlan ${VERSION} (node ${process.version})`)
    })
}
