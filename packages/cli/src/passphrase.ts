/**
 * Reading the owner key's passphrase: from a file (`--passphrase-file F`), from stdin
 * (`--passphrase-file -`), or from the terminal without echo. Never from argv: a command line is
 * visible to every user in `ps` and lands in shell history.
 */
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { readText, UsageError } from './io.ts'

/** The file's text without its one trailing newline (a passphrase may have inner spaces). */
function firstLine(text: string, from: string): string {
  const p = text.replace(/\r?\n$/, '')
  if (p.includes('\n'))
    throw new UsageError(`${from} has more than one line: put the passphrase alone on one line`)
  if (p === '') throw new UsageError(`${from} is empty: put the passphrase on its first line`)
  return p
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Asks on the terminal (prompt on stderr); what is typed is not echoed. */
export function askHidden(prompt: string): Promise<string> {
  let muted = false
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk)
      cb()
    },
  })
  const rl = createInterface({ input: process.stdin, output, terminal: true })
  return new Promise((resolve, reject) => {
    rl.question(prompt, (answer) => {
      rl.close()
      process.stderr.write('\n')
      resolve(answer)
    })
    muted = true // after the prompt is written: the typed characters are swallowed
    rl.on('SIGINT', () => {
      rl.close()
      process.stderr.write('\n')
      reject(new UsageError('cancelled'))
    })
  })
}

export interface PassphraseSource {
  /** `--passphrase-file` (or `--old-passphrase-file`): a path, or `-` for stdin. */
  file?: string
  /** The option's name, for messages. */
  option: string
  /** What to ask on a terminal when no file is given. */
  prompt: string
  /** Ask twice on a terminal (a new passphrase): a typo would lock the owner out. */
  confirm?: boolean
}

/** The passphrase from the file, stdin or the terminal; a script without a terminal must pass a file. */
export async function readPassphrase(s: PassphraseSource): Promise<string> {
  if (s.file === '-') return firstLine(await readStdin(), 'stdin')
  if (s.file != null) return firstLine(await readText(s.file), s.file)
  if (!process.stdin.isTTY)
    throw new UsageError(`no terminal to ask for the passphrase on: pass ${s.option} FILE (or - for stdin)`)
  const p = await askHidden(`${s.prompt}: `)
  if (p === '') throw new UsageError('no passphrase given')
  if (s.confirm === true && (await askHidden('again, to confirm: ')) !== p)
    throw new UsageError('the two passphrases differ: nothing changed, run the command again')
  return p
}

/** Two options may not both read stdin. */
export function oneStdin(...files: Array<string | undefined>): void {
  if (files.filter((f) => f === '-').length > 1)
    throw new UsageError('only one passphrase can come from stdin: give the other one as a file')
}
