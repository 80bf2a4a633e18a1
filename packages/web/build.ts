/**
 * Builds the web admin into one directory the daemon serves (packages/daemon/src/web-root.ts):
 * index.html, assets/app.js (every page, the QR encoder and mesh's ACL validator, bundled and
 * minified by esbuild, the bundler scripts/build.mjs already uses) and assets/app.css.
 * No CDN and no inline code: the Content-Security-Policy allows only these files.
 *
 * Usage: node packages/web/build.ts [OUT]   (default packages/web/build)
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const SRC = fileURLToPath(new URL('./src/', import.meta.url))
export const DEFAULT_WEB_OUT = fileURLToPath(new URL('./build/', import.meta.url))

/**
 * mesh's ACL validator takes three IPv4 helpers from @meshlan/wire, whose entry also holds
 * node:crypto code (join strings, mesh keys): the page gets the one dependency-free file they
 * live in instead of the whole package.
 */
const wireForBrowser = {
  name: 'wire-for-browser',
  setup(b: { onResolve: (o: { filter: RegExp }, f: () => { path: string }) => void }) {
    b.onResolve({ filter: /^@meshlan\/wire$/ }, () => ({
      path: fileURLToPath(new URL('../wire/src/cidr.ts', import.meta.url)),
    }))
  },
}

export async function buildWeb(out: string = DEFAULT_WEB_OUT): Promise<string> {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(join(out, 'assets'), { recursive: true })
  await build({
    entryPoints: { app: join(SRC, 'main.ts'), style: join(SRC, 'styles.css') },
    outdir: join(out, 'assets'),
    entryNames: '[name]',
    bundle: true,
    plugins: [wireForBrowser],
    platform: 'browser',
    format: 'esm',
    // what Debian's chromium and current phone browsers run
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  })
  copyFileSync(join(SRC, 'index.html'), join(out, 'index.html'))
  copyFileSync(join(SRC, 'favicon.svg'), join(out, 'favicon.svg'))
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`built ${await buildWeb(process.argv[2] ?? DEFAULT_WEB_OUT)}`)
}
