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

const common = {
  plugins: [inlineOwnPackageJson],
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
for (const name of ['meshlan_tun.node', 'meshlan_sock.node', 'meshlan_aead.node', 'meshlan_peercred.node']) {
  cpSync(join(root, 'packages/tun/build/Release', name), join(out, 'build/Release', name))
}
await buildWeb(join(out, 'web'))
console.log(`built ${out}`)
