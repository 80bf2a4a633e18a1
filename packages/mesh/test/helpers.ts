import { connect, createServer, type Socket } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey, Stream } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { createFrameBatch, decodeControl, FrameDecoder, parseJoinString } from '@meshlan/wire'
import { allowAllAcl, compileAcl, createConntrack, createPacketFilter, parseIpv4 } from '../src/acl/index.ts'
import { createLogger } from '../src/logger.ts'
import { MemoryDevice } from '../src/memory-device.ts'
import { type CreateKeyInit, claimMembership, createKey, createNetwork, newKey } from '../src/network.ts'
import { MeshNode } from '../src/node.ts'
import { createPump, type Pump, type PumpComponents, type PumpInit } from '../src/pump.ts'
import { createTransport, type MeshLibp2p } from '../src/transport.ts'

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
  /** Most members of each reusable key (a fleet test shares one key). @default DEFAULT_KEY_MAX_MEMBERS */
  maxMembers?: number
  /** 'tcp' listens on 127.0.0.1 with real sockets. @default 'memory' */
  transport?: 'memory' | 'tcp'
  /**
   * With 'tcp': members listen on 0.0.0.0, so their records list every interface address (tests
   * of interface changes, in a namespace of their own). @default false
   */
  listenAll?: boolean
}): Promise<TestMesh> {
  const tcp = opts.transport === 'tcp'
  const listenAddr = () => (tcp ? '/ip4/127.0.0.1/tcp/0' : memAddr())
  const memberListen = () => (tcp && opts.listenAll === true ? '/ip4/0.0.0.0/tcp/0' : listenAddr())
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
    const r = await createKey(
      policy,
      ownerKey,
      { name, acl: acl ?? undefined, reusable, maxMembers: reusable ? opts.maxMembers : 1 },
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
        listen: [memberListen()],
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

/** A bare libp2p node with no membership at all (no gate: its own handlers answer anyone). */
export async function stranger(key?: PrivateKey): Promise<MeshLibp2p> {
  const s = await createTransport({
    privateKey: key ?? (await generateKeyPair('Ed25519')),
    networkId: 'stranger',
    listen: [memAddr()],
    underlay: memory(),
  })
  await s.start()
  return s
}

/** Joins a new node to `mesh` with a join string the owner made (as `meshlan join` + `up`). */
export async function joinNode(
  mesh: TestMesh,
  joinString: string,
  name: string,
  opts: {
    key?: PrivateKey
    bootstrap?: string | string[]
    policy?: Uint8Array
    relay?: boolean
    device?: MemoryDevice
  } = {},
): Promise<MeshNode> {
  const key = opts.key ?? (await generateKeyPair('Ed25519'))
  const join = parseJoinString(joinString)
  if (!join.ok) throw new Error(join.reason)
  const bootstrap = opts.bootstrap ?? `${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`
  const node = new MeshNode({
    privateKey: key,
    networkId: join.value.networkId,
    owner: join.value.ownerPeerId,
    name,
    claim: await claimMembership(join.value, key),
    minPolicyVersion: join.value.minPolicyVersion,
    bootstrap: Array.isArray(bootstrap) ? bootstrap : [bootstrap],
    policy: opts.policy,
    relay: opts.relay,
    listen: [memAddr()],
    underlay: memory(),
    device: opts.device ?? null,
    log: quiet,
  })
  await node.start()
  mesh.nodes.push(node)
  return node
}

/**
 * A key made on the running owner through its signer (reusable and allow-all unless `init` says
 * otherwise); returns the join string.
 */
export async function ownerKey(
  mesh: TestMesh,
  name: string,
  init: Partial<CreateKeyInit> = {},
): Promise<string> {
  const policy = mesh.owner.membership.store.policy
  if (policy == null) throw new Error('the owner holds no policy')
  const { change, joinString } = await newKey(
    policy,
    { acl: { rules: [{ to: ['*'] }] }, ...init, name, reusable: init.reusable ?? true },
    [`${mesh.ownerAddr}/p2p/${mesh.owner.peerId}`],
  )
  await mesh.owner.amendPolicy(change)
  return joinString
}

/** Resolves with every byte a stream receives until it ends (closed or reset). */
export function drain(stream: Stream): Promise<number> {
  return new Promise((resolve) => {
    let n = 0
    stream.addEventListener('message', (evt) => {
      n += evt.data.byteLength
    })
    stream.addEventListener('close', () => resolve(n))
  })
}

/** The refusal (code, reason) a peer writes on a tunnel stream it will not take. */
export async function readRefusal(stream: Stream): Promise<{ code: string; reason: string }> {
  const dec = new FrameDecoder()
  const batch = createFrameBatch(1)
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no refusal')), 5000)
    stream.addEventListener('message', (evt) => {
      dec.push(evt.data)
      if (dec.decode(batch) !== 0 && batch.controlOffset >= 0) {
        const m = decodeControl(
          batch.buf.subarray(batch.controlOffset, batch.controlOffset + batch.controlLength),
        )
        if (m.ok && m.value.t === 'refuse') {
          clearTimeout(t)
          resolve({ code: m.value.code, reason: m.value.reason })
        }
      }
    })
  })
}

/** A bare libp2p node over real loopback TCP whose gater lets everyone in (reachability tests). */
export async function loopbackNode(relayServer = false): Promise<MeshLibp2p> {
  const lp = await createTransport({
    privateKey: await generateKeyPair('Ed25519'),
    networkId: 'loopback',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    gater: { deny: () => false, isMember: () => true },
    relayServer,
  })
  await lp.start()
  return lp
}

/** The owner and one admin member, `server`, converged: the stage of most adversary tests. */
export async function serverMesh(): Promise<TestMesh> {
  const mesh = await buildMesh({
    members: [{ name: 'server', key: 'admin' }],
    keys: { admin: { rules: [{ to: ['*'] }] } },
  })
  await waitConverged([mesh.owner, ...mesh.nodes], 1)
  return mesh
}

/** A connected TCP socket pair on loopback (what a simultaneous open leaves on each side). */
export async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const accepted = new Promise<Socket>((r) => server.once('connection', r))
  const client = connect(port, '127.0.0.1')
  await new Promise<void>((r, j) => client.once('connect', r).once('error', j))
  const srv = await accepted
  server.close()
  return [client, srv]
}

/**
 * A started pump whose self is `self` and whose one link, 'peer' at `peer`, allows everything both
 * ways (the pump tests' common start): `openStream` is what the pump dials for that link.
 */
export function allowAllPump(
  self: string,
  peer: string,
  components: { device: MemoryDevice; openStream: PumpComponents['openStream'] },
  init: PumpInit = {},
): Pump {
  const pump = createPump(init, components)
  const all = compileAcl(allowAllAcl(), { nodeIp: () => undefined, tagIps: () => [] })
  const selfIp = parseIpv4(self) as number
  const peerIp = parseIpv4(peer) as number
  pump.start()
  pump.setSelfIp(selfIp)
  pump.upsertPeer(
    'peer',
    peerIp,
    createPacketFilter({ selfIp, peerIp, inbound: all, outbound: all, conntrack: createConntrack() }),
  )
  return pump
}

/** Runs `fn` with setInterval recorded (period and creation stack of each call), then restores it. */
export async function recordIntervals<T>(fn: () => Promise<T>): Promise<{ value: T; intervals: string[] }> {
  const intervals: string[] = []
  const real = globalThis.setInterval
  globalThis.setInterval = ((f: () => void, ms?: number) => {
    intervals.push(`${ms} ${new Error().stack ?? ''}`)
    return real(f, ms)
  }) as typeof setInterval
  try {
    return { value: await fn(), intervals }
  } finally {
    globalThis.setInterval = real
  }
}
