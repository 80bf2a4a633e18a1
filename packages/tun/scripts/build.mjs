// Builds the native addon with node-gyp against the headers of the Node we run
// (npm_config_nodedir, set by scripts/lib/toolchain.sh), and skips the build when
// build/Release/meshlan_tun.node is newer than every source, so `turbo run build` stays fast.
// Without npm_config_nodedir it uses the headers next to the running node binary when they are
// there (the official tarball and the node-linux-* packages ship include/node).
// `--if-possible` (the install script): a failed build warns instead of failing `pnpm install`;
// the addon then reports TunAddonMissingError when used, and `pnpm run build` shows the error.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const output = join(root, 'build', 'Release', 'meshlan_tun.node')
const sources = [
  join(root, 'binding.gyp'),
  join(root, 'scripts', 'build.mjs'),
  ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f)),
]

const mtime = (f) => statSync(f).mtimeMs
if (!process.argv.includes('--force') && existsSync(output)) {
  const built = mtime(output)
  if (sources.every((f) => mtime(f) < built)) process.exit(0)
}

if (process.platform !== 'linux') {
  console.error('@meshlan/tun: the TUN addon is Linux only; skipping the native build')
  process.exit(0)
}

const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')
const args = [gyp, 'rebuild', '--jobs=max', '--loglevel=warn']
const besideNode = join(dirname(dirname(realpathSync(process.execPath))))
const nodedir =
  process.env.npm_config_nodedir ||
  process.env.MESHLAN_NODEDIR ||
  (existsSync(join(besideNode, 'include', 'node', 'node_api.h')) ? besideNode : '')
if (nodedir) args.push(`--nodedir=${nodedir}`)
else console.error('@meshlan/tun: npm_config_nodedir is not set; node-gyp may try to download headers')
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
if (r.status !== 0) {
  console.error('@meshlan/tun: native build failed: install gcc, make and python3, then run `pnpm run build`')
  process.exit(process.argv.includes('--if-possible') ? 0 : (r.status ?? 1))
}
