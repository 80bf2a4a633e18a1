/**
 * `meshlan join`: the join string carries the key's secret, so it is best read from stdin
 * (`meshlan join -`) or a file (`--file F`); on the command line it is visible to every local user
 * in `ps` and stays in the shell history, which is allowed but warned about.
 */
import { readFile, stat } from 'node:fs/promises'
import type { Command } from 'commander'
import { ctx, err, json, out, UsageError } from '../io.ts'

/** More than any join string (8 KiB) plus whitespace: a wrong file or pipe is not read whole. */
const MAX_JOIN_INPUT_BYTES = 64 * 1024

export const ARGV_SECRET_WARNING =
  'warning: a join string on the command line is visible to other users in `ps` and stays in ' +
  'your shell history: prefer `meshlan join -` (paste it, or pipe it in) or `meshlan join --file FILE`'

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) err('paste the join string, then press Enter and Ctrl-D:')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length
    if (size > MAX_JOIN_INPUT_BYTES)
      throw new UsageError(`stdin has more than ${MAX_JOIN_INPUT_BYTES} bytes: that is not a join string`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function readJoinFile(file: string): Promise<string> {
  try {
    const s = await stat(file)
    if (s.size > MAX_JOIN_INPUT_BYTES)
      throw new UsageError(`${file} has more than ${MAX_JOIN_INPUT_BYTES} bytes: that is not a join string`)
    return await readFile(file, 'utf8')
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e}): check the path`)
  }
}

/** The join string from exactly one of: `-` (stdin), --file, or the argument itself. */
async function joinStringFrom(arg: string | undefined, file: string | undefined): Promise<string> {
  if (arg != null && file != null)
    throw new UsageError('give the join string once: as an argument, `-` for stdin, or --file FILE')
  if (file != null) return readJoinFile(file)
  if (arg == null)
    throw new UsageError('missing join string: use `meshlan join -` (stdin) or `meshlan join --file FILE`')
  if (arg === '-') return readStdin()
  err(ARGV_SECRET_WARNING)
  return arg
}

export function registerJoin(program: Command): void {
  program
    .command('join [joinstring]')
    .description('join a network with a join string from its owner (`-` reads it from stdin)')
    .option('--file <file>', 'read the join string from a file')
    .option('--name <name>', 'node name (default: the host name)')
    .action(async (arg: string | undefined, o: { name?: string; file?: string }, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const joinString = (await joinStringFrom(arg, o.file)).trim()
      if (joinString === '') throw new UsageError('the join string is empty: copy it again')
      const running = await client.daemonRunning()
      const r = await client.control('join', { joinString, name: o.name ?? null })
      if (asJson) return json({ ...r, daemonRunning: running })
      out(`joined network ${r.networkId} with key ${r.keyName} as ${r.name}`)
      err(running ? 'the daemon is connecting: see `meshlan status`' : 'next: `meshlan up`')
    })
}
