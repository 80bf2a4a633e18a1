import { readdirSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { NETNS_ETC_DIR } from './constants.ts'
import { checkPrefix, isLabNamespace } from './names.ts'
import { run, runSync } from './run.ts'

/** What cleanLab() removed. */
export interface CleanReport {
  namespaces: string[]
  etcDirs: string[]
  killedPids: number[]
}

function parseNetnsList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => Boolean(n))
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .map((s) => Number(s))
    .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid)
}

function etcDirsOf(prefix: string): string[] {
  try {
    return readdirSync(NETNS_ETC_DIR).filter((d) => isLabNamespace(prefix, d))
  } catch {
    return []
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal)
    return true
  } catch {
    return false
  }
}

/** Every existing namespace named by this lab prefix. */
export async function listLabNamespaces(prefix: string): Promise<string[]> {
  checkPrefix(prefix)
  const r = await run('ip', ['netns', 'list'])
  return parseNetnsList(r.stdout).filter((ns) => isLabNamespace(prefix, ns))
}

/** SIGKILLs every process still inside `ns`; returns their pids. */
export async function killNamespacePids(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns])
  const pids = parsePids(r.stdout)
  for (const pid of pids) killQuietly(pid, 'SIGKILL')
  return pids
}

/**
 * Removes everything a lab with this prefix may have left behind (namespaces, the processes in them,
 * /etc/netns/<ns> dirs). Safe to call when nothing is left. Touches nothing outside the lab's names.
 */
export async function cleanLab(prefix: string): Promise<CleanReport> {
  const all = await listLabNamespaces(prefix)
  const killedPids: number[] = []
  for (const ns of all) killedPids.push(...(await killNamespacePids(ns)))
  await Promise.all(all.map((ns) => run('ip', ['netns', 'del', ns])))
  const etcDirs = etcDirsOf(prefix)
  await Promise.all(etcDirs.map((d) => rm(join(NETNS_ETC_DIR, d), { recursive: true, force: true })))
  return { namespaces: all, etcDirs, killedPids }
}

/** Synchronous cleanLab() for process 'exit' handlers: never throws. */
export function cleanLabSync(prefix: string): void {
  const found = parseNetnsList(runSync('ip', ['netns', 'list'])).filter((ns) => isLabNamespace(prefix, ns))
  for (const ns of found) {
    for (const pid of parsePids(runSync('ip', ['netns', 'pids', ns]))) killQuietly(pid, 'SIGKILL')
  }
  for (const ns of found) runSync('ip', ['netns', 'del', ns])
  for (const d of etcDirsOf(prefix)) {
    try {
      rmSync(join(NETNS_ETC_DIR, d), { recursive: true, force: true })
    } catch {}
  }
}
