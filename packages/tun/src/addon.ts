/** Loads one of this package's native addons (build/Release/<name>.node) once per process. */
import { createRequire } from 'node:module'
import { TunAddonMissingError } from './errors.ts'

const loaded = new Map<string, unknown>()

/** The addon `name` (e.g. 'meshlan_sock'); throws TunAddonMissingError when it is not built. */
export function loadAddon<T>(name: string): T {
  const hit = loaded.get(name)
  if (hit !== undefined) return hit as T
  const require = createRequire(import.meta.url)
  let addon: T
  try {
    addon = require(`../build/Release/${name}.node`) as T
  } catch (cause) {
    throw new TunAddonMissingError({ cause })
  }
  loaded.set(name, addon)
  return addon
}
