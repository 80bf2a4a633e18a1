import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { parseJoinString } from '@meshlan/wire'
import { createLogger } from '../src/logger.ts'
import { MemoryDevice } from '../src/memory-device.ts'
import { claimMembership, createKey, createNetwork } from '../src/network.ts'
import { MeshNode } from '../src/node.ts'

export const quiet = createLogger('test', { level: (process.env.MESHLAN_LOG as 'debug') ?? 'error' })

let memCounter = 0
export function memAddr(): string {
  return `/memory/meshlan-test-${process.pid}-${memCounter++}`
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<number> {
  const start = Date.now()
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
  return Date.now() - start
}

/** A minimal IPv4 packet (header checksum left 0: the pump does not check it). */
export function ipv4Packet(
  src: string,
  dst: string,
  proto: number,
  sport = 0,
  dport = 0,
  payload = 16,
  icmpType = 8,
): Uint8Array {
  const l4 = proto === 1 ? 8 : proto === 6 ? 20 : 8
  const p = new Uint8Array(20 + l4 + payload)
  p[0] = 0x45
  p[2] = p.length >> 8
  p[3] = p.length & 0xff
  p[8] = 64
  p[9] = proto
  src.split('.').forEach((o, i) => {
    p[12 + i] = Number(o)
  })
  dst.split('.').forEach((o, i) => {
    p[16 + i] = Number(o)
  })
  if (proto === 1) {
    p[20] = icmpType
  } else {
    p[20] = sport >> 8
    p[21] = sport & 0xff
    p[22] = dport >> 8
    p[23] = dport & 0xff
    if (proto === 6) {
      p[32] = 0x50
      p[33] = 0x02 // SYN
    }
  }
  return p
}

export interface TestMesh {
  owner: MeshNode
  ownerKey: PrivateKey
  ownerAddr: string
  nodes: MeshNode[]
  devices: Map<MeshNode, MemoryDevice>
  /** key name → join string */
  joins: Record<string, string>
  stop(): Promise<void>
}

/** Owner + members over the in-memory transport. `keys` maps key name → ACL; members name their key. */
export async function buildMesh(opts: {
  members: Array<{ name: string; key: string }>
  keys: Record<string, unknown>
  subnet?: string
  dataPlane?: boolean
  memberKeys?: PrivateKey[]
  ownerKey?: PrivateKey
  createdAt?: number
  /** The owner runs a member relay. */
  ownerRelay?: boolean
  /** Keys created one-use (the rest are reusable). */
  oneUse?: string[]
  /** 'tcp' listens on 127.0.0.1 with real sockets. @default 'memory' */
  transport?: 'memory' | 'tcp'
}): Promise<TestMesh> {
  const tcp = opts.transport === 'tcp'
  const listenAddr = () => (tcp ? '/ip4/127.0.0.1/tcp/0' : memAddr())
  const ownerKey = opts.ownerKey ?? (await generateKeyPair('Ed25519'))
  let ownerAddr = listenAddr()
  let { policy, envelope } = await createNetwork(ownerKey, {
    name: 'test',
    subnet: opts.subnet ?? '10.144.0.0/16',
    now: opts.createdAt,
  })
  const devices = new Map<MeshNode, MemoryDevice>()
  const mk = (dev: boolean) => (dev ? new MemoryDevice() : null)
  const joins: Record<string, string> = {}
  for (const [name, acl] of Object.entries(opts.keys)) {
    const reusable = !(opts.oneUse ?? []).includes(name)
    // over TCP the owner's port is known only once it listens: nodes get it from `ownerAddr` below
    const bootstrap = tcp ? '/ip4/127.0.0.1/tcp/1' : ownerAddr
    // maxMembers: test fleets (the 50-node run) share one key
    const r = await createKey(
      policy,
      ownerKey,
      { name, acl: acl ?? undefined, reusable, maxMembers: reusable ? 1000 : 1 },
      [bootstrap],
    )
    policy = r.policy
    envelope = r.envelope
    joins[name] = r.joinString
  }
  const ownerDev = mk(opts.dataPlane ?? false)
  const owner = new MeshNode({
    privateKey: ownerKey,
    networkId: policy.networkId,
    owner: policy.owner,
    name: 'owner',
    policy: envelope,
    relay: opts.ownerRelay === true,
    listen: [ownerAddr],
    underlay: tcp ? undefined : memory(),
    device: ownerDev,
    log: quiet,
  })
  if (ownerDev) devices.set(owner, ownerDev)
  await owner.start()
  if (tcp)
    ownerAddr = owner.libp2pNode
      .getMultiaddrs()[0]
      .toString()
      .replace(/\/p2p\/[^/]+$/, '')
  const nodes: MeshNode[] = []
  await Promise.all(
    opts.members.map(async (m, i) => {
      const key = opts.memberKeys?.[i] ?? (await generateKeyPair('Ed25519'))
      const join = parseJoinString(joins[m.key])
      if (!join.ok) throw new Error(join.reason)
      const claim = await claimMembership(join.value, key)
      const dev = mk(opts.dataPlane ?? false)
      const node = new MeshNode({
        privateKey: key,
        networkId: join.value.networkId,
        owner: join.value.ownerPeerId,
        name: m.name,
        claim,
        minPolicyVersion: join.value.minPolicyVersion,
        bootstrap: [`${ownerAddr}/p2p/${policy.owner}`],
        listen: [listenAddr()],
        underlay: tcp ? undefined : memory(),
        device: dev,
        log: quiet,
      })
      if (dev) devices.set(node, dev)
      nodes[i] = node
      await node.start()
    }),
  )
  return {
    owner,
    ownerKey,
    ownerAddr,
    nodes,
    devices,
    joins,
    async stop() {
      await Promise.allSettled([owner, ...nodes].map((n) => n.stop()))
    },
  }
}

/** A node's view of the address map (its peers and itself), comparable across nodes. */
export function addressView(n: MeshNode): string {
  const m = new Map(n.status().peers.map((p) => [p.peerId, p.ip]))
  m.set(n.peerId, n.address as string)
  return JSON.stringify([...m.entries()].sort())
}

/**
 * Waits until every node has an address, knows `peers` others, and (when the owner is among them)
 * everybody is bound by the owner, so names and addresses are final.
 */
export function waitConverged(all: MeshNode[], peers: number, timeoutMs = 10_000): Promise<number> {
  return until(
    () =>
      all.every((n) => {
        const s = n.status()
        return s.peers.length === peers && n.address != null && s.self.bound && s.peers.every((p) => p.bound)
      }),
    timeoutMs,
    'convergence',
  )
}
