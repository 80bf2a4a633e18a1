/**
 * The demo (the README's first command): a three-node meshlan network in network namespaces.
 *   1. a lab: one LAN segment, three hosts (nas, laptop, guest), each its own namespace
 *   2. nas creates the network and two keys: `family` (everything) and `guests` (ssh to nas only)
 *   3. laptop joins with `family`, guest with `guests`; every node comes up with a TUN
 *   4. status, kernel ping across the overlay, `meshlan ping`
 *   5. MagicDNS: `nas.mesh` resolves and answers ping by name
 *   6. the guests key's ACL refusing a connection, with its reason
 *   7. teardown (also on failure or Ctrl-C)
 */
import { canRunLabs } from '@meshlan/lab'
import { createMeshLab, formMesh, ipOf, type MeshLab } from './mesh-lab.ts'

const step = (s: string) => console.log(`\n\x1b[1m== ${s}\x1b[0m`)
const show = (prefix: string, text: string) => {
  for (const line of text.trimEnd().split('\n')) console.log(`  ${prefix} ${line}`)
}

const can = canRunLabs()
if (!can.ok) {
  console.error(`the demo needs network namespaces: ${can.reason}`)
  process.exit(1)
}

let ml: MeshLab | null = null
let failed = false
try {
  step('1. lab: three hosts on one LAN, each in its own network namespace')
  ml = await createMeshLab({ prefix: 'mldemo', hosts: ['nas', 'laptop', 'guest'] })
  for (const n of ml.nodes.values()) console.log(`  ${n.name.padEnd(7)} ${n.host.address('lan')}`)

  step('2-3. nas creates network "home" with keys family (*) and guests (ssh to nas); the others join')
  const joins = await formMesh(ml, {
    owner: 'nas',
    network: 'home',
    keys: { family: null, guests: { rules: [{ to: ['node:nas'], ports: ['22/tcp'] }] } },
    members: { laptop: 'family', guest: 'guests' },
    // the lab's namespaces have their own resolv.conf: MagicDNS takes it over and gives it back
    config: { laptop: '[dns]\nhost_integration = "resolvconf"\n' },
  })
  console.log(`  join string for family: ${joins.family.slice(0, 48)}…`)

  step('4. meshlan status on laptop')
  show('laptop$', await ml.node('laptop').cli(['status']))
  const nasIp = await ipOf(ml.node('nas'))
  step(`   kernel ping laptop → nas (${nasIp}) through the TUN`)
  const p = await ml.node('laptop').exec('ping', ['-c', '3', '-i', '0.2', nasIp])
  show('laptop$', p.stdout.split('\n').slice(-3).join('\n'))
  if (p.code !== 0) throw new Error('ping laptop → nas failed')
  step('   meshlan ping nas (overlay-level: which path answered)')
  show('laptop$', await ml.node('laptop').cli(['ping', 'nas', '--count', '2']))

  step('5. MagicDNS: laptop resolves nas.mesh and pings it by name')
  const laptop = ml.node('laptop')
  const dig = await laptop.exec('dig', ['+short', 'nas.mesh'])
  show('laptop$ dig +short nas.mesh →', dig.stdout.trim())
  const byName = await laptop.exec('ping', ['-c', '2', '-i', '0.2', 'nas.mesh'])
  show(
    'laptop$',
    byName.stdout
      .split('\n')
      .filter((l) => /PING|bytes from|packet loss/.test(l))
      .join('\n'),
  )
  if (byName.code !== 0) throw new Error('ping nas.mesh failed')
  show('laptop$', await laptop.cli(['dns', 'status']))

  step('6. the guests key only allows ssh to nas: a ping from guest is refused, with the reason')
  const g = await ml.node('guest').run(['ping', 'nas', '--count', '1'])
  show('guest$', (g.stdout + g.stderr).trim())
  const k = await ml.node('guest').exec('ping', ['-c', '1', '-W', '1', nasIp])
  console.log(
    `  guest$ ping ${nasIp}: ${k.code === 0 ? 'answered (unexpected!)' : 'no answer: dropped by the ACL'}`,
  )
  show('nas$', await ml.node('nas').cli(['acl', 'show', 'guests']))
} catch (err) {
  failed = true
  console.error(`\ndemo failed: ${(err as Error).message}`)
} finally {
  step('7. teardown')
  await ml?.teardown()
  console.log('  lab removed: no namespaces, interfaces or state left behind')
}
process.exit(failed ? 1 : 0)
