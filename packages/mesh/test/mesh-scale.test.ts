import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { buildMesh, type TestMesh, waitConverged } from './helpers.ts'

const N = Number(process.env.MESHLAN_SCALE_NODES ?? 50)

describe(`${N} nodes in one process over the memory transport`, () => {
  let mesh: TestMesh
  after(async () => mesh?.stop())

  it('converge on one consistent topology and address map', async () => {
    const t0 = Date.now()
    mesh = await buildMesh({
      members: Array.from({ length: N - 1 }, (_, i) => ({ name: `node-${i}`, key: 'admin' })),
      keys: { admin: { rules: [{ to: ['*'] }] } },
      maxMembers: N,
    })
    const started = Date.now() - t0
    const all = [mesh.owner, ...mesh.nodes]
    const snapshot = (n: (typeof all)[number]) => {
      const s = n.status()
      const entries = s.peers.map((p) => `${p.peerId}=${p.ip}/${p.name}`)
      entries.push(`${n.peerId}=${s.self.ip}/${s.self.name}`)
      return entries.sort().join(',')
    }
    // converged: every node knows every other one, and the owner has bound them all (final names
    // and addresses: a view taken before that could still differ by provisional names)
    const converge = await waitConverged(all, N - 1, 60_000)
    const views = new Set(all.map(snapshot))
    assert.equal(views.size, 1, 'every node has the same address map and names')
    const ips = new Set(all.map((n) => n.address))
    assert.equal(ips.size, N, 'addresses are unique')
    console.log(`# ${N} nodes: started in ${started} ms, converged ${converge} ms after the last start`)
  })
})
