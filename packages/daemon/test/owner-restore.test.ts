/**
 * Owner continuity, in process (no TUN): a protected owner and three members. The owner backs its
 * key up, signs one more version after the backup, and its state directory is deleted. The backup
 * is refused with a wrong passphrase and when tampered with; restored on member a, which first
 * pulls the newest version from the mesh (the one signed after the backup) and signs newest + 1,
 * binding itself under `owner` and revoking the old owner's node. a revokes c's key: b and c apply
 * it and c is cut off within 2 s; every version after the loss is above the newest before it and
 * verifies under the same owner key. A restore on b with no member left to ask refuses.
 */
import assert from 'node:assert/strict'
import { readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import type { NodeStatus } from '@meshlan/mesh'
import { decodeOwnerPolicy, publicKeyFromPeerId } from '@meshlan/wire'
import { fromBase64, toBase64 } from '@meshlan/wire/encoding'
import { BACKUP_PASS, continuityMesh, until } from './continuity-mesh.ts'

it('owner continuity: backup, owner state lost, restore on a member continues the chain; a revoke reaches every node; wrong passphrase, tampered backup and no reachable member are refused; the 24-word phrase restores on another member', async () => {
  const m = await continuityMesh('restore')
  const { dirs, daemons, call } = m
  const net = { owner: m.owner }
  try {
    const ownerNode = daemons.o.node?.peerId as string

    // the backup, then one more version the backup does not hold
    const bk = await call<{ backup: string; version: number }>('o', 'networkBackup', {
      passphrase: BACKUP_PASS,
    })
    const { phrase } = await call<{ phrase: string }>('o', 'networkPhrase', {})
    assert.equal(phrase.split(' ').length, 24)
    await call('o', 'keyCreate', { name: 'after-backup', allowAll: true })
    const newest = (await call<NodeStatus>('o', 'status')).self.network.policyVersion
    assert.ok(newest > bk.version, 'a version signed after the backup')
    for (const n of ['a', 'b', 'c']) {
      await until(`${n} holds v${newest}`, async () => {
        return (await call<NodeStatus>(n, 'status')).self.network.policyVersion === newest
      })
    }
    // the owner's box dies: its state is gone
    await daemons.o.stop()
    delete daemons.o
    await rm(dirs.o, { recursive: true, force: true })

    // refused: wrong backup passphrase, a tampered backup
    const restoreParams = {
      backup: bk.backup,
      backupPassphrase: BACKUP_PASS,
      passphrase: 'new local passphrase',
    }
    await assert.rejects(
      call('a', 'networkRestore', { ...restoreParams, backupPassphrase: 'not the backup passphrase' }),
      /wrong backup passphrase/,
    )
    const tampered = fromBase64(bk.backup) as Uint8Array
    tampered[80] ^= 1
    await assert.rejects(
      call('a', 'networkRestore', { ...restoreParams, backup: toBase64(tampered) }),
      /the backup file: was changed or damaged/,
    )
    await assert.rejects(stat(join(dirs.a, 'owner.key')), /ENOENT/)

    // restored on member a: it pulled the version the backup lacked and signs the next one
    const r = await call<{ previousVersion: number; version: number; revokedOwnerNodes: string[] }>(
      'a',
      'networkRestore',
      restoreParams,
    )
    assert.equal(r.previousVersion, newest)
    assert.equal(r.version, newest + 1)
    assert.deepEqual(r.revokedOwnerNodes, [ownerNode])
    assert.equal((await stat(join(dirs.a, 'owner.key'))).mode & 0o777, 0o600)
    assert.deepEqual(await call('a', 'lock-status'), { protected: true, locked: false })
    for (const n of ['b', 'c']) {
      await until(`${n} takes the restored owner's v${r.version}`, async () => {
        return (await call<NodeStatus>(n, 'status')).self.network.policyVersion === r.version
      })
    }

    // the restored owner revokes c's key: b and c apply it, c is cut off within 2 s
    const rev = await call<{ version: number }>('a', 'keyRevoke', { name: 'kc' })
    assert.equal(rev.version, r.version + 1)
    const t0 = Date.now()
    await until(
      'c cut off',
      async () => {
        const b = await call<NodeStatus>('b', 'status')
        const c = await call<NodeStatus>('c', 'status')
        const aSees = (await call<NodeStatus>('a', 'status')).peers.some((p) => p.name === 'c' && p.online)
        return (
          b.self.network.policyVersion === rev.version &&
          c.self.network.policyVersion === rev.version &&
          !c.self.member &&
          !b.peers.some((p) => p.name === 'c' && p.online) &&
          !aSees
        )
      },
      2000,
    )
    assert.ok(Date.now() - t0 <= 2000)
    assert.equal((await call<{ ok: boolean }>('b', 'ping', { target: 'a', count: 1 })).ok, true)

    // the chain after the loss: above the newest before it, each signed by the same owner key
    const pub = publicKeyFromPeerId(net.owner)
    assert.ok(pub.ok)
    for (const n of ['a', 'b']) {
      const d = await decodeOwnerPolicy(
        new Uint8Array(await readFile(join(dirs[n], 'policy.bin'))),
        pub.value,
      )
      assert.ok(d.ok, `${n}'s policy verifies under the owner key`)
      assert.equal(d.value.body.version, rev.version)
      assert.equal(d.value.body.owner, net.owner)
      const mine = d.value.body.members.find((m) => m.peerId === daemons.a.node?.peerId)
      assert.equal(mine?.key, 'owner', 'a is bound under owner')
      assert.ok(
        d.value.body.revokedNodes.some((x) => x.peerId === ownerNode),
        'the old owner node is revoked',
      )
    }

    // the printable recovery phrase: a second restore, on b, from the 24 words alone (the box of the
    // restored owner, a, is lost or no longer trusted)
    const aNode = daemons.a.node?.peerId as string
    const held = (await call<NodeStatus>('b', 'status')).self.network.policyVersion
    const words = phrase.split(' ')
    const typo = [...words]
    typo[6] = 'meshlanx'
    await assert.rejects(
      call('b', 'networkRestore', { phrase: typo.join(' '), passphrase: 'b local passphrase' }),
      /word 7 \("meshlanx"\) is not a phrase word/,
    )
    const { ownerKeyToPhrase } = await import('../src/owner-phrase.ts')
    const { generateKeyPair } = await import('@libp2p/crypto/keys')
    await assert.rejects(
      call('b', 'networkRestore', {
        phrase: ownerKeyToPhrase(await generateKeyPair('Ed25519')),
        passphrase: 'b local passphrase',
      }),
      /not the owner key of network/,
    )
    // the words (case and spacing forgiven) make b the owner's node: it syncs with a, signs the next
    // version and revokes a's owner node, as a file restore does
    const r2 = await call<{ previousVersion: number; version: number; revokedOwnerNodes: string[] }>(
      'b',
      'networkRestore',
      { phrase: words.join('  ').toUpperCase(), passphrase: 'b local passphrase' },
    )
    assert.equal(r2.previousVersion, held)
    assert.equal(r2.version, held + 1)
    assert.deepEqual(r2.revokedOwnerNodes, [aNode])
    assert.deepEqual(await call('b', 'lock-status'), { protected: true, locked: false })
    const bPolicy = await decodeOwnerPolicy(
      new Uint8Array(await readFile(join(dirs.b, 'policy.bin'))),
      pub.value,
    )
    assert.ok(bPolicy.ok)
    assert.equal(bPolicy.value.body.version, r2.version)
    assert.equal(bPolicy.value.body.members.find((m) => m.peerId === daemons.b.node?.peerId)?.key, 'owner')

    // a restore that cannot ask any member refuses (on a, with b stopped and c revoked)
    await daemons.b.stop()
    delete daemons.b
    await assert.rejects(
      call('a', 'networkRestore', restoreParams),
      /cannot prove this node holds the newest policy/,
    )
    const aAudit = (await readFile(join(dirs.a, 'audit.log'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    const restores = aAudit
      .filter((e) => e.event === 'network.restore')
      .map((e) => [e.ok, e.detail.error ?? null])
    assert.deepEqual(restores, [
      [false, 'ERR_WRONG_BACKUP_PASSPHRASE'],
      [false, 'ERR_BACKUP_FILE'],
      [true, null],
      [false, 'ERR_NEWEST_POLICY_UNKNOWN'],
    ])
    const bAudit = (await readFile(join(dirs.b, 'audit.log'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.deepEqual(
      bAudit
        .filter((e) => e.event === 'network.restore')
        .map((e) => [e.ok, e.detail.from, e.detail.error ?? null]),
      [
        [false, 'phrase', 'ERR_RECOVERY_PHRASE'],
        [false, 'phrase', 'ERR_PHRASE_OTHER_OWNER'],
        [true, 'phrase', null],
      ],
    )
  } finally {
    await m.close()
  }
})
