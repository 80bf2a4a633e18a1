import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { removeKey } from '../src/network.ts'
import { addressView, buildMesh, ipv4Packet, type TestMesh, until, waitConverged } from './helpers.ts'

describe('in-process mesh over the memory transport', () => {
  let mesh: TestMesh
  after(async () => mesh?.stop())

  it('members converge on one address map and carry packets under their key ACLs', async () => {
    mesh = await buildMesh({
      members: [
        { name: 'server', key: 'admin' },
        { name: 'guest', key: 'guests' },
      ],
      keys: {
        admin: { rules: [{ to: ['*'] }] },
        guests: { rules: [{ to: ['node:server'], ports: ['22/tcp'] }] },
      },
      dataPlane: true,
    })
    const all = [mesh.owner, ...mesh.nodes]
    await waitConverged(all, 2)
    const view = addressView
    for (const n of all) assert.equal(view(n), view(mesh.owner))
    // connected members were seen now (the web admin's "Seen" column)
    const seenAt = Date.now()
    for (const p of mesh.owner.status().peers) {
      assert.ok(p.online)
      assert.ok(
        p.lastSeen != null && Math.abs(p.lastSeen - seenAt) < 5000,
        `${p.name} lastSeen ${p.lastSeen}`,
      )
      // what its record announces for direct dials: its listen address, no relay circuit
      assert.ok(p.endpoints.length > 0, `${p.name} endpoints ${p.endpoints}`)
      for (const e of p.endpoints) assert.ok(!e.includes('p2p-circuit'), `${p.name} endpoint ${e}`)
    }

    const [server, guest] = mesh.nodes
    const owner = mesh.owner
    const ownerIp = owner.address as string
    const serverIp = server.address as string
    const guestIp = guest.address as string

    // owner → server ICMP flows
    mesh.devices.get(owner)?.inject([ipv4Packet(ownerIp, serverIp, 1)])
    await mesh.devices.get(server)?.waitFor(1)

    // guest → server tcp/22 flows, tcp/80 and icmp don't
    mesh.devices
      .get(guest)
      ?.inject([
        ipv4Packet(guestIp, serverIp, 6, 40000, 22),
        ipv4Packet(guestIp, serverIp, 6, 40001, 80),
        ipv4Packet(guestIp, serverIp, 1),
      ])
    await mesh.devices.get(server)?.waitFor(2)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(mesh.devices.get(server)?.written.length, 2)
    const ping = await guest.ping('server', 1)
    assert.equal(ping.ok, false)
    assert.ok(!ping.ok && ping.code === 'ACL' && /guests/.test(ping.reason), JSON.stringify(ping))
    const okPing = await owner.ping('server', 1)
    assert.equal(okPing.ok, true, JSON.stringify(okPing))

    // revoking the key reaches every node quickly
    const t0 = Date.now()
    await owner.amendPolicy(removeKey('guests'))
    const ms = await until(
      () => all.filter((n) => n !== guest).every((n) => !n.status().peers.some((p) => p.name === 'guest')),
      2000,
      'revocation',
    )
    assert.ok(Date.now() - t0 < 2000, `revocation took ${ms} ms`)
    await until(() => !guest.status().self.member, 3000, 'guest to learn it was revoked')
    assert.match(guest.status().self.reason ?? '', /revoked|not in the policy/)
  })
})
