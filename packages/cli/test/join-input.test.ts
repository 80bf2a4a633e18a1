/**
 * `meshlan join` takes the join string (a secret) from stdin (`-`) or a file (`--file`); on the
 * command line it still works but warns on stderr that it is visible in `ps` and shell history.
 * Offline (no daemon): the owner's controller runs on its state files.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { meshlan } from './fixtures/run-cli.ts'

const CONFIG = 'listen = ["/ip4/127.0.0.1/tcp/0"]\n[tun]\nenabled = false\n'
const WARNING = /visible to other users in `ps` and stays in your shell history/

describe('meshlan join: the join string from stdin, a file, or argv (warned)', () => {
  let root: string
  let joinString: string
  let n = 0
  const memberDir = async (): Promise<string> => {
    const d = join(root, `member-${n++}`)
    await mkdir(d, { recursive: true, mode: 0o700 })
    await writeFile(join(d, 'config.toml'), CONFIG)
    return d
  }
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-cli-join-'))
    const owner = join(root, 'owner')
    await mkdir(owner, { recursive: true, mode: 0o700 })
    await writeFile(join(owner, 'config.toml'), CONFIG)
    for (const args of [
      ['init', '--name', 'owner'],
      ['network', 'create', 'joinlab', '--force'],
    ]) {
      const r = await meshlan(owner, args)
      assert.equal(r.code, 0, r.stderr)
    }
    const r = await meshlan(owner, ['key', 'create', 'guest', '--reusable', '--allow-all'])
    assert.equal(r.code, 0, r.stderr)
    joinString = r.stdout.trim()
    assert.match(joinString, /^mlj2_\S+$/)
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('`join -` reads stdin, without the warning; --json stays JSON on stdout', async () => {
    const r = await meshlan(
      await memberDir(),
      ['join', '-', '--name', 'm-stdin', '--json'],
      `${joinString}\n`,
    )
    assert.equal(r.code, 0, r.stderr)
    const j = JSON.parse(r.stdout)
    assert.equal(j.keyName, 'guest')
    assert.equal(j.name, 'm-stdin')
    assert.doesNotMatch(r.stderr, WARNING)
  })

  it('`join --file F` reads the file, without the warning', async () => {
    const file = join(root, 'join.txt')
    await writeFile(file, `\n  ${joinString}  \n`, { mode: 0o600 })
    const r = await meshlan(await memberDir(), ['join', '--file', file, '--name', 'm-file'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /joined network \S+ with key guest as m-file/)
    assert.doesNotMatch(r.stderr, WARNING)
  })

  it('a join string on argv still works, with the warning on stderr', async () => {
    const r = await meshlan(await memberDir(), ['join', joinString, '--name', 'm-argv'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /joined network/)
    assert.match(r.stderr, WARNING)
  })

  it('refuses two sources, nothing, an empty stdin and a corrupted string, saying why', async () => {
    const file = join(root, 'join2.txt')
    await writeFile(file, joinString)
    const both = await meshlan(await memberDir(), ['join', joinString, '--file', file])
    assert.equal(both.code, 1)
    assert.match(both.stderr, /give the join string once/)
    const none = await meshlan(await memberDir(), ['join'])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /meshlan join -/)
    const empty = await meshlan(await memberDir(), ['join', '-'], '\n')
    assert.equal(empty.code, 1)
    assert.match(empty.stderr, /the join string is empty/)
    const bad = await meshlan(await memberDir(), ['join', '-'], joinString.replaceAll('a', 'b'))
    assert.equal(bad.code, 1)
    assert.match(
      bad.stderr,
      /checksum mismatch: the join string was changed or cut — copy it again|not base64url/,
    )
  })
})
