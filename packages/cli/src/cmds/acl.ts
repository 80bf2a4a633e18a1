/** `meshlan acl show|set|edit` (owner only; format in docs/acl.md). */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline/promises'
import type { Command } from 'commander'
import { ctx, err, json, out, readText, UsageError } from '../io.ts'

async function promptEnter(question: string): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    await rl.question(question)
  } finally {
    rl.close()
  }
}

export function registerAcl(program: Command): void {
  const acl = program.command('acl').description('key ACLs (owner only; format in docs/acl.md)')
  acl
    .command('show [key]')
    .description("show a key's ACL (or every key's)")
    .action(async (name: string | undefined, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const r = await client.control('aclShow', { key: name ?? null })
      if (asJson) return json(name != null ? r.keys[0] : r)
      if (name != null) return out(JSON.stringify(r.keys[0].acl, null, 2))
      if (r.keys.length === 0) return out('no mesh keys')
      out(r.keys.map((k) => `# ${k.name}\n${JSON.stringify(k.acl, null, 2)}`).join('\n\n'))
    })
  acl
    .command('set <key> <file>')
    .description("replace a key's ACL with a file (validated before it is signed)")
    .action(async (name: string, file: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const text = await readText(file)
      const { formatAclIssues, parseAcl } = await import('@meshlan/mesh')
      const v = parseAcl(text)
      if (!v.ok) throw new UsageError(`${file} is not a valid ACL:\n${formatAclIssues(v.errors)}`)
      const r = await client.control('aclSet', { key: name, aclText: text })
      if (asJson) json(r)
      else out(`ACL of key ${r.key} updated (policy v${r.version})`)
    })
  acl
    .command('edit <key>')
    .description("edit a key's ACL in $EDITOR (re-opened until it is valid)")
    .action(async (name: string, _o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      const current = await client.control('aclShow', { key: name })
      const original = JSON.stringify(current.keys[0].acl, null, 2) + '\n'
      const editor = process.env.VISUAL ?? process.env.EDITOR ?? 'vi'
      const dir = await mkdtemp(join(tmpdir(), 'meshlan-acl-'))
      const file = join(dir, `${name}.acl.json`)
      try {
        await writeFile(file, original, { mode: 0o600 })
        for (;;) {
          const r = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' })
          if (r.status !== 0)
            throw new UsageError(`the editor (${editor}) failed: set $EDITOR to a working editor`)
          const text = await readFile(file, 'utf8')
          if (text.trim() === '' || text === original) {
            err('no change: the ACL stays as it was')
            return
          }
          const { formatAclIssues, parseAcl } = await import('@meshlan/mesh')
          const v = parseAcl(text)
          if (v.ok) {
            const s = await client.control('aclSet', { key: name, aclText: text })
            if (asJson) json(s)
            else out(`ACL of key ${s.key} updated (policy v${s.version})`)
            return
          }
          err(`the ACL is not valid:\n${formatAclIssues(v.errors)}`)
          if (!process.stdin.isTTY)
            throw new UsageError('the ACL was not changed: fix the errors above and run it again')
          await promptEnter('press Enter to edit again, Ctrl-C to abort ')
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
}
