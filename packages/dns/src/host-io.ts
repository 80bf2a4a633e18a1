/** What host integration does to the machine: run commands (resolvectl) and file operations. */
import { execFile } from 'node:child_process'
import { constants as fsConstants } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { COMMAND_TIMEOUT_MS } from './constants.ts'

export interface CommandResult {
  /** Exit code; 127 when the command could not be started. */
  code: number
  stdout: string
  stderr: string
}

/** Runs a command without a shell. Must not reject. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<CommandResult>

/** The file operations host integration uses (node:fs by default; tests inject failures). */
export interface HostDnsFs {
  readFile(path: string): Promise<Buffer>
  /** Writes and fsyncs `path` (created with `mode`). */
  writeFileSync(path: string, data: Buffer | string, mode: number): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  /** null when the path does not exist. */
  lstat(path: string): Promise<{ symlink: boolean; mode: number } | null>
  readlink(path: string): Promise<string>
  symlink(target: string, path: string): Promise<void>
  mkdir(path: string): Promise<void>
  /** fsync a directory so renames in it are durable (best effort). */
  syncDir(path: string): Promise<void>
}

/** Runs `cmd` with execFile (no shell), killed after COMMAND_TIMEOUT_MS. */
export const defaultRun: CommandRunner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err == null) return resolve({ code: 0, stdout, stderr })
      const code = typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127
      resolve({ code, stdout: stdout ?? '', stderr: stderr || err.message })
    })
  })

/** HostDnsFs over node:fs. */
export const nodeHostFs: HostDnsFs = {
  readFile: (p) => fsp.readFile(p),
  async writeFileSync(p, data, mode) {
    const fh = await fsp.open(p, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC, mode)
    try {
      await fh.writeFile(data)
      await fh.chmod(mode)
      await fh.sync()
    } finally {
      await fh.close()
    }
  },
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
  async lstat(p) {
    try {
      const s = await fsp.lstat(p)
      return { symlink: s.isSymbolicLink(), mode: s.mode & 0o7777 }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  },
  readlink: (p) => fsp.readlink(p),
  symlink: (t, p) => fsp.symlink(t, p),
  mkdir: async (p) => {
    await fsp.mkdir(p, { recursive: true, mode: 0o700 })
  },
  async syncDir(p) {
    try {
      const fh = await fsp.open(p, fsConstants.O_RDONLY)
      try {
        await fh.sync()
      } finally {
        await fh.close()
      }
    } catch {
      // best effort: some filesystems refuse fsync on directories
    }
  },
}
