import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { bindMembers, InvalidAclError, NotOwnerError, nextVersion, UnknownKeyError } from '@meshlan/mesh'
import { decodePolicy, parseJoinString } from '@meshlan/wire'
import { Controller } from '../src/controller.ts'
import { AlreadyInNetworkError, InvalidJoinStringError } from '../src/errors.ts'
import { StateDir } from '../src/state.ts'

describe('controller, offline on a state directory', () => {
  let root: string
  let owner: Controller
  let member: Controller
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'meshlan-ctl-'))
    owner = new Controller({
      state: new StateDir(join(root, 'owner')),
      hostRoutes: async () => ['192.168.1.0/24', '10.0.0.0/8'],
      hostAddresses: () => ['192.0.2.10'],
    })
    member = new Controller({ state: new StateDir(join(root, 'member')) })
  })
  after(async () => rm(root, { recursive: true, force: true }))

  it('init creates a 0600 identity in a 0700 directory, idempotently', async () => {
    const a = await owner.init({ name: 'alpha' })
    assert.equal(a.created, true)
    assert.equal(a.name, 'alpha')
    const b = await owner.init({})
    assert.equal(b.created, false)
    assert.equal(b.peerId, a.peerId)
    assert.equal((await stat(owner.state.dir)).mode & 0o777, 0o700)
    assert.equal((await stat(owner.state.path('identity'))).mode & 0o777, 0o600)
  })

  it('network create checks the subnet against host routes', async () => {
    await assert.rejects(
      owner.networkCreate({ name: 'home', subnet: '10.144.0.0/16' }),
      /overlaps the host route 10\.0\.0\.0\/8/,
    )
    const r = await owner.networkCreate({ name: 'home', subnet: '172.30.0.0/16' })
    assert.equal(r.subnet, '172.30.0.0/16')
    const net = JSON.parse(await readFile(owner.state.path('network'), 'utf8'))
    assert.equal(net.role, 'owner')
    assert.equal(net.networkId, r.networkId)
    await assert.rejects(owner.networkCreate({ name: 'again' }), AlreadyInNetworkError)
  })

  let joinString = ''
  it('key create returns a join string with this host as bootstrap', async () => {
    const r = await owner.keyCreate({ name: 'admin', tags: ['ops', 'admin'] })
    joinString = r.joinString
    const j = parseJoinString(r.joinString)
    assert.ok(j.ok)
    assert.equal(j.value.keyName, 'admin')
    const { peerId } = await owner.init({})
    assert.deepEqual(j.value.bootstrap, [`/ip4/192.0.2.10/tcp/7946/p2p/${peerId}`])
    assert.equal(r.version, 2)
    await assert.rejects(owner.keyCreate({ name: 'Bad Name' }), /key name/)
  })

  it('acl set with a bad ACL names the rule and field and changes nothing', async () => {
    const before = await owner.state.readPolicy()
    await assert.rejects(
      owner.aclSet({ key: 'admin', aclText: '{"rules":[{"to":["*"]},{"to":["node:"],"ports":["22/tcp"]}]}' }),
      (err: Error) => {
        assert.ok(err instanceof InvalidAclError)
        assert.match(err.message, /rules\[1\]\.to\[0\]/)
        return true
      },
    )
    assert.deepEqual(await owner.state.readPolicy(), before)
    await assert.rejects(owner.aclSet({ key: 'nope', aclText: '{"rules":[]}' }), UnknownKeyError)
    const ok = await owner.aclSet({
      key: 'admin',
      aclText: '{"rules":[{"to":["tag:ops"],"ports":["22/tcp"]}]}',
    })
    assert.equal(ok.version, 3)
    const shown = await owner.aclShow({ key: 'admin' })
    assert.deepEqual(shown.keys[0].acl, { rules: [{ to: ['tag:ops'], ports: ['22/tcp'] }] })
  })

  it('key list, key revoke', async () => {
    await owner.keyCreate({ name: 'guest', reusable: true, expiresAt: Date.now() + 3600_000 })
    const list = await owner.keyList({})
    assert.deepEqual(
      list.keys.map((k) => [k.name, k.reusable]),
      [
        ['admin', false],
        ['guest', true],
      ],
    )
    await owner.keyRevoke({ name: 'guest' })
    const after = await owner.keyList({})
    assert.deepEqual(
      after.keys.map((k) => k.name),
      ['admin'],
    )
    assert.deepEqual(
      after.revoked.map((k) => k.name),
      ['guest'],
    )
    await assert.rejects(owner.keyRevoke({ name: 'guest' }), UnknownKeyError)
    const p = decodePolicy((await owner.state.readPolicy()) as Uint8Array)
    assert.ok(p.ok)
    assert.equal(p.value.body.version, 5)
  })

  it('join stores the claim, never the secret; members are not owners', async () => {
    await assert.rejects(member.join({ joinString: 'mlj1_garbage' }), InvalidJoinStringError)
    const r = await member.join({ joinString, name: 'beta' })
    assert.equal(r.keyName, 'admin')
    assert.equal(r.name, 'beta')
    const text = await readFile(member.state.path('network'), 'utf8')
    const net = JSON.parse(text)
    assert.equal(net.role, 'member')
    assert.ok(typeof net.claim === 'string' && net.claim.length > 0)
    const j = parseJoinString(joinString)
    assert.ok(j.ok)
    assert.ok(!text.includes(Buffer.from(j.value.secret).toString('base64url')))
    await assert.rejects(member.keyCreate({ name: 'x' }), NotOwnerError)
  })

  it('node revoke accepts a peer id', async () => {
    const { peerId } = await member.init({})
    const r = await owner.nodeRevoke({ target: peerId })
    assert.equal(r.peerId, peerId)
    await assert.rejects(owner.nodeRevoke({ target: 'nobody' }), /no node "nobody"/)
  })

  it('node revoke --with-key revokes the node and the key it joined with in one policy version', async () => {
    const ownerKey = await owner.state.requireIdentity()
    await owner.keyCreate({ name: 'laptops', reusable: true, allowAll: true })
    const afterKey = decodePolicy((await owner.state.readPolicy()) as Uint8Array)
    assert.ok(afterKey.ok)
    const ids = await Promise.all(
      [1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()),
    )
    const bound = await nextVersion(
      afterKey.value.body,
      ownerKey,
      bindMembers(
        ids.map((peerId, i) => ({ peerId, key: 'laptops', wanted: `laptop${i}` })),
        Date.now(),
      ),
    )
    await owner.state.writePolicy(bound.envelope)
    const plain = await owner.nodeRevoke({ target: 'laptop0' })
    assert.equal(plain.keyRevoked, null)
    assert.match(
      plain.warning ?? '',
      /still admits new identities; run `meshlan node revoke laptop0 --with-key`/,
    )
    const r = await owner.nodeRevoke({ target: 'laptop1', withKey: true })
    assert.equal(r.keyRevoked, 'laptops')
    assert.equal(r.version, bound.policy.version + 2, 'node and key in one version')
    const p = decodePolicy((await owner.state.readPolicy()) as Uint8Array)
    assert.ok(p.ok)
    assert.ok(!p.value.body.keys.some((k) => k.name === 'laptops'), 'the key is gone')
    assert.ok(
      p.value.body.revokedNodes.some((x) => x.peerId === ids[1]),
      'the node is revoked',
    )
    assert.ok(
      p.value.body.revokedKeys.some((k) => k.name === 'laptops'),
      'the key is revoked',
    )
  })
})
