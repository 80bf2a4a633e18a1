/** What every command shares: its context (client, --json), output to stdout, diagnostics to stderr. */
import { readFile } from 'node:fs/promises'
import { resolveStateDir } from '@meshlan/daemon/client'
import type { Command } from 'commander'
import { Client } from './client.ts'

export interface GlobalOptions {
  state?: string
  json?: boolean
  otp?: string
  otpUser?: string
}

/** An error whose message is already what the user should read. */
export class UsageError extends Error {}

/** A line (or block) for people, on stdout. */
export const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n')
}
/** A diagnostic (hints, warnings, progress), on stderr: never mixed into --json output. */
export const err = (text: string): void => {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n')
}
/** The stable --json output: one pretty-printed JSON value on stdout. */
export const json = (value: unknown): void => out(JSON.stringify(value, null, 2))

/** The client for the command's --state and whether --json was given. */
export function ctx(cmd: Command): { client: Client; json: boolean } {
  const o = cmd.optsWithGlobals<GlobalOptions>()
  return {
    client: new Client(resolveStateDir(o.state), { otp: o.otp, otpUser: o.otpUser }),
    json: o.json === true,
  }
}

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (e) {
    throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e}): check the path`)
  }
}
