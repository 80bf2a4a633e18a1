/**
 * Delegated admins with real daemons on loopback (issue 11, owner continuity): the owner names a
 * member an admin; the owner's state directory is deleted; the admin revokes a key and every node
 * applies it (the revoked member cut off within 2 s); a non-admin member cannot; the owner restored
 * from its backup on another member continues the version chain above the admin's versions; once it
 * removes the admin, that node can sign nothing any more.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { it } from 'node:test'
import type { NodeStatus } from '@meshlan/mesh'
import { BACKUP_PASS, continuityMesh, until } from './continuity-mesh.ts'

it('a delegated admin keeps the network administered after the owner’s box is lost; removed, it cannot sign', async () => {
  const m = await continuityMesh('delegate')
  const { dirs, daemons, call } = m
  const version = async (n: string) => (await call<NodeStatus>(n, 'status')).self.network.policyVersion
  try {
    // the owner names a an admin: every node holds the certificate
    const named = await call<{ epoch: number; version: number; nodes: Array<{ name: string }> }>(
      'o',
      'delegateSet',
      {
        node: 'a',
        admin: true,
      },
    )
    assert.equal(named.epoch, 1)
    assert.deepEqual(
      named.nodes.map((n) => n.name),
      ['a'],
    )
    for (const n of ['a', 'b', 'c'])
      await until(`${n} holds v${named.version}`, async () => (await version(n)) === named.version)
    assert.deepEqual(
      (await call<{ nodes: Array<{ name: string }> }>('b', 'delegateList')).nodes.map((n) => n.name),
      ['a'],
    )
    // a member that is not an admin cannot sign
    await assert.rejects(call('b', 'keyRevoke', { name: 'kc' }), /only the network owner|owner/)

    // with the owner online too: an admin's key, which the owner takes like any version
    const made = await call<{ version: number; joinString: string }>('a', 'keyCreate', { name: 'from-admin' })
    assert.equal(made.version, named.version + 1)
    await until(
      `the owner holds the admin's v${made.version}`,
      async () => (await version('o')) === made.version,
    )
    // the backup holds the newest the owner has: the admin's version
    const bk = await call<{ backup: string; version: number }>('o', 'networkBackup', {
      passphrase: BACKUP_PASS,
    })
    assert.equal(bk.version, made.version)
    // the owner's box dies: its state is gone
    await daemons.o.stop()
    delete daemons.o
    await rm(dirs.o, { recursive: true, force: true })

    // the admin revokes c's key: every remaining member applies it, c is cut off within 2 s
    const rev = await call<{ version: number }>('a', 'keyRevoke', { name: 'kc' })
    assert.equal(rev.version, made.version + 1)
    const t0 = Date.now()
    await until(
      'c cut off by the admin’s version',
      async () => {
        // every remaining member holds the admin's version and refuses c (c itself, cut off from
        // everyone, may learn it only later)
        const b = await call<NodeStatus>('b', 'status')
        const a = await call<NodeStatus>('a', 'status')
        return (
          b.self.network.policyVersion === rev.version &&
          !b.peers.some((p) => p.name === 'c' && p.online) &&
          !a.peers.some((p) => p.name === 'c' && p.online)
        )
      },
      2000,
    )
    console.log(
      `# delegated admin: key revoke applied on every node ${Date.now() - t0} ms after the CLI returned`,
    )
    // nor can the admin take the owner's place: revoking the owner's node is refused by its own store
    await assert.rejects(call('a', 'nodeRevoke', { target: 'owner' }), /admin cannot/)

    // the owner restored from its backup on b continues the chain above the admin's versions
    const r = await call<{ previousVersion: number; version: number }>('b', 'networkRestore', {
      backup: bk.backup,
      backupPassphrase: BACKUP_PASS,
      passphrase: 'new local passphrase',
    })
    assert.equal(r.previousVersion, rev.version)
    assert.equal(r.version, rev.version + 1)
    await until(`a takes the restored owner's v${r.version}`, async () => (await version('a')) >= r.version)

    // the restored owner removes a: a new epoch; a's next change is refused at a itself
    const removed = await call<{ epoch: number; version: number; nodes: unknown[] }>('b', 'delegateSet', {
      node: 'a',
      admin: false,
    })
    assert.equal(removed.epoch, 2)
    assert.deepEqual(removed.nodes, [])
    await until(`a holds v${removed.version}`, async () => (await version('a')) === removed.version)
    await assert.rejects(call('a', 'keyRevoke', { name: 'kb' }), /owner/)
    assert.equal(await version('a'), removed.version)
    assert.equal(await version('b'), removed.version)
  } finally {
    await m.close()
  }
})
