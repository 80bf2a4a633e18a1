/** `meshlan ping`: overlay-level ping of a member. */
import { type Command, Option } from 'commander'
import { ms, pathText } from '../format.ts'
import { ctx, err, json, out, UsageError } from '../io.ts'

export function registerPing(program: Command): void {
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
      const r = await client.call('ping', { target, count })
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
}
