// Builds the installable meshlan: two ESM bundles (CLI, daemon) with esbuild, next to the native
// addons they load, in one directory:
//
//   <out>/dist/meshlan.mjs          the CLI (`meshlan ...`), with its lazily loaded chunks beside it
//   <out>/dist/meshlan-daemon.mjs   the daemon the CLI spawns (MESHLAN_DAEMON_ENTRY)
//   <out>/build/Release/*.node      the addons (the bundles load ../build/Release/*.node)
//   <out>/web/                      the web admin the daemon serves (packages/web/build.ts)
//
// Type stripping stays for development (scripts/meshlan runs the sources); the bundle is what
// scripts/install.sh installs: one file to parse instead of ~900 modules, so `meshlan status`
// starts in a fraction of the time (docs/benchmarks.md). Usage: node scripts/build.mjs [OUT]
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { buildWeb } from '../packages/web/build.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const out = resolve(process.argv[2] ?? join(root, 'build/meshlan'))
rmSync(out, { recursive: true, force: true })
mkdirSync(join(out, 'dist'), { recursive: true })

// Some libraries read their own package.json at run time (`req('../../package.json')`, e.g.
// @achingbrain/ssdp for its User-Agent): inside a bundle that path does not exist. Inline the
// name and version they want, at build time, for every such read under node_modules.
const PKG_READ = /\b(req|require)\((['"])((?:\.\.\/)+)package\.json\2\)/g
const inlineOwnPackageJson = {
  name: 'inline-own-package-json',
  setup(b) {
    b.onLoad({ filter: /node_modules.*\.[cm]?js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8')
      if (!PKG_READ.test(text)) return undefined
      PKG_READ.lastIndex = 0
      const contents = text.replace(PKG_READ, (_m, _fn, _q, up) => {
        const pkg = JSON.parse(readFileSync(join(dirname(args.path), up, 'package.json'), 'utf8'))
        return `(${JSON.stringify({ name: pkg.name, version: pkg.version })})`
      })
      return { contents, loader: 'js' }
    })
  },
}

// Memory (issue 14): how the bundle reaches some of Node's own modules, each through a stand-in
// module whose key lists are read from this Node at build time.
// - 'require': an ESM import of node:http builds a module facade that reads every export, and
//   node:http's lazy `WebSocket`/`CloseEvent`/`MessageEvent` getters then load undici (fetch), tls,
//   http2 and zlib: +17 MB RSS in a bare node (`import 'node:http'` 41 -> 58 MB) for a daemon that
//   never fetches. A CommonJS require leaves them lazy; the stand-in re-exports the module's plain
//   values (never its getters).
// - 'lazy': modules used only on paths a daemon may never take — https (tls) in the UPnP client's
//   fetch of a device description (@achingbrain/ssdp; descriptions are http:// in practice), http2,
//   https and tls in dns2's DNS-over-HTTPS and -TLS clients (we use its servers and packet codec
//   only) — load on first use: +7.5 MB RSS for tls, +2 MB for http2 (require() in a bare node). The
//   stand-in exports the module's plain functions as wrappers and, as its default, an object whose
//   properties are read from the real module, required at the first call or read.
const STAND_INS = { http: 'require', https: 'lazy', http2: 'lazy', tls: 'lazy' }

function requiredStandIn(name) {
  const d = Object.getOwnPropertyDescriptors(createRequire(import.meta.url)(`node:${name}`))
  const values = Object.keys(d).filter((k) => 'value' in d[k] && !k.startsWith('_'))
  return `const real = require('node:${name}')\nexport default real\nexport const { ${values.join(', ')} } = real\n`
}

function lazyStandIn(name) {
  const real = createRequire(import.meta.url)(`node:${name}`)
  const keys = Object.keys(real)
  // functions named in lower case are plain functions (request, get, connect, createServer):
  // wrappers are safe for them; classes and values are reached through the default object
  const fns = keys.filter((k) => typeof real[k] === 'function' && /^[a-z]\w*$/.test(k))
  return [
    'let real',
    `const load = () => (real ??= require('node:${name}'))`,
    ...fns.map((k) => `export function ${k}(...a) { return load().${k}(...a) }`),
    'const lazy = {}',
    `for (const k of ${JSON.stringify(keys)}) Object.defineProperty(lazy, k, { get: () => load()[k], enumerable: true })`,
    'export default lazy',
  ].join('\n')
}

/**
 * An esbuild plugin that resolves the modules `filter` matches to generated source (`contents`),
 * in the namespace `ml-NAME`. `ownImportsExternal`: a stand-in's own import of the module it stands
 * in for (a builtin's real module) stays external instead of resolving to itself.
 */
function standInPlugin(name, filter, contents, { ownImportsExternal = false } = {}) {
  const namespace = `ml-${name}`
  return {
    name: `${name}-stand-ins`,
    setup(b) {
      b.onResolve({ filter }, (args) =>
        ownImportsExternal && args.namespace === namespace
          ? { path: args.path, external: true }
          : { path: args.path.replace(/^node:/, ''), namespace },
      )
      b.onLoad({ filter: /.*/, namespace }, (args) => ({ contents: contents(args.path), loader: 'js' }))
    },
  }
}

const builtinStandIns = standInPlugin(
  'builtin',
  new RegExp(`^(node:)?(${Object.keys(STAND_INS).join('|')})$`),
  (path) => (STAND_INS[path] === 'lazy' ? lazyStandIn(path) : requiredStandIn(path)),
  { ownImportsExternal: true },
)

// Memory (issue 14): Noise's default crypto module compiles two WebAssembly modules when it is
// imported — @chainsafe/as-chacha20poly1305 (its AEAD below 1200 bytes) and @chainsafe/as-sha256 —
// +10 MB RSS in a bare node (WebAssembly code space, compiler threads). The daemon never runs
// either: its AEAD is ours (mesh/src/noise-crypto.ts, the tun addon's) and Noise hashes with
// node:crypto. The bundle gets stand-ins: SHA-256 from node:crypto (the same function), and a
// ChaCha20-Poly1305 that can be constructed (Noise builds one at import) but refuses to run,
// saying why. `e2e/test/service.test.ts` checks the installed daemon carries no WebAssembly.
const WASM_STAND_INS = {
  '@chainsafe/as-sha256': [
    "import { createHash } from 'node:crypto'",
    "export function digest(data) { return new Uint8Array(createHash('sha256').update(data).digest()) }",
  ].join('\n'),
  '@chainsafe/as-chacha20poly1305': [
    'const refuse = () => {',
    "  throw new Error('@chainsafe/as-chacha20poly1305 is not in this build (scripts/build.mjs): pass Noise the crypto of mesh/src/noise-crypto.ts')",
    '}',
    'export function newInstance() { return null }',
    'export class ChaCha20Poly1305 { seal() { refuse() } open() { refuse() } }',
  ].join('\n'),
}
const wasmStandIns = standInPlugin(
  'wasm',
  /^@chainsafe\/as-(sha256|chacha20poly1305)$/,
  (path) => WASM_STAND_INS[path],
)

const common = {
  plugins: [inlineOwnPackageJson, builtinStandIns, wasmStandIns],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  legalComments: 'none',
  // Memory (issue 14): V8 keeps every module's source text for lazy compilation, and one non-ASCII
  // character (a comment's dash, a zod locale) makes a whole chunk a two-byte string: 6.7 MB of
  // source text in an idle daemon's heap (heap snapshot). ASCII output (escapes), no whitespace or
  // comments: 2.7 MB. Identifiers stay, so stack traces still name functions.
  charset: 'ascii',
  minifyWhitespace: true,
  logLevel: 'warning',
  // libraries that still call require() get one from the bundle's own location
  banner: {
    js: "import { createRequire as __mlCreateRequire } from 'node:module'; const require = __mlCreateRequire(import.meta.url);",
  },
}
// The CLI is split: what `meshlan status` needs loads at start-up, the node (libp2p) only in the
// commands that import it dynamically (`up --foreground`, offline owner commands). Chunks sit next
// to the entry: they find meshlan-daemon.mjs and ../build/Release/*.node the same way.
await build({
  ...common,
  entryPoints: { meshlan: join(root, 'packages/cli/src/main.ts') },
  outdir: join(out, 'dist'),
  splitting: true,
  chunkNames: 'meshlan-[name]-[hash]',
  outExtension: { '.js': '.mjs' },
})
await build({
  ...common,
  entryPoints: [join(root, 'packages/daemon/src/main.ts')],
  outfile: join(out, 'dist/meshlan-daemon.mjs'),
})
mkdirSync(join(out, 'build/Release'), { recursive: true })
for (const name of [
  'meshlan_tun.node',
  'meshlan_sock.node',
  'meshlan_aead.node',
  'meshlan_peercred.node',
  'meshlan_netmon.node',
]) {
  cpSync(join(root, 'packages/tun/build/Release', name), join(out, 'build/Release', name))
}
await buildWeb(join(out, 'web'))
console.log(`built ${out}`)
