/**
 * Where the built web admin is: MESHLAN_WEB_ROOT, else next to the daemon — `<out>/web` beside
 * `<out>/dist/meshlan-daemon.mjs` in the installed bundle (scripts/build.mjs), or
 * packages/web/build when the daemon runs from the sources (`pnpm --filter @meshlan/web build`).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function findWebRoot(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [
    env.MESHLAN_WEB_ROOT,
    fileURLToPath(new URL('../web', import.meta.url)),
    fileURLToPath(new URL('../../web/build', import.meta.url)),
  ]
  for (const dir of candidates) if (dir && existsSync(join(dir, 'index.html'))) return dir
  return null
}
