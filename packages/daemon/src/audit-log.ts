/**
 * The audit log on disk: `<state>/audit.log`, one JSON object per line, each chained to the line
 * before it:
 *
 *   {"ts":"2025-01-01T12:00:00.000Z","event":"key.create","actor":"uid:0","source":"uid:0","ok":true,
 *    "detail":{"key":"laptop","version":7},"prev":"<sha256 hex of the previous line>"}
 *
 * `prev` is the SHA-256 of the previous line's bytes (without its newline); the first line ever
 * uses the SHA-256 of GENESIS. Editing, inserting or deleting a line breaks the chain at the next
 * one, which `meshlan audit --verify` names. (Cutting lines off the end leaves a valid shorter
 * chain: nothing inside one file can prove what is missing after its last line; ship the log off
 * the box, e.g. through journald, when that matters.)
 *
 * At MAX_AUDIT_BYTES the file is rotated to audit.log.1 (the previous .1 is dropped) and the new
 * file's first line chains to the old file's last, so both verify as one chain.
 *
 * Each line is one write(2) with O_APPEND, then fsync. A kill -9 can at worst leave a last line
 * without its newline: the next writer cuts it off and records `audit.truncated` first, and
 * verify reports such a tail as truncated rather than as tampering.
 */
import { createHash } from 'node:crypto'
import { constants as fsConstants } from 'node:fs'
import { open, readFile, rename, stat, truncate } from 'node:fs/promises'
import type { AuditEntry } from './api.ts'
import type { AuditEvent, AuditSink } from './audit.ts'

export const GENESIS = 'meshlan audit log v1'
export const GENESIS_HASH = sha256(GENESIS)
/** Rotate above this size: bounded on a small SD card, still months of admin actions. */
export const MAX_AUDIT_BYTES = 10 * 1024 * 1024
/** Tail read to find the last line (lines are short: details are names and small diffs). */
const TAIL_BYTES = 256 * 1024

/** One line of the log: the control API's AuditEntry (what `meshlan audit --json` prints). */
export type AuditLine = AuditEntry

function sha256(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex')
}

export interface AuditLogInit {
  file: string
  /** @default MAX_AUDIT_BYTES */
  maxBytes?: number
  /** @default () => new Date() */
  now?: () => Date
}

export class AuditLog implements AuditSink {
  readonly file: string
  private readonly maxBytes: number
  private readonly now: () => Date
  private queue: Promise<unknown> = Promise.resolve()

  constructor(init: AuditLogInit) {
    this.file = init.file
    this.maxBytes = init.maxBytes ?? MAX_AUDIT_BYTES
    this.now = init.now ?? (() => new Date())
  }

  /** Appends one event (serialised: the chain never forks within a process). */
  append(e: AuditEvent): Promise<void> {
    const run = this.queue.then(() => this.write(e))
    this.queue = run.catch(() => {})
    return run
  }

  private async write(e: AuditEvent): Promise<void> {
    let tail = await lastLine(this.file)
    if (tail.partial > 0) {
      // an append interrupted by a crash: cut the fragment, and say so in the log itself
      await truncate(this.file, tail.size - tail.partial)
      const cut = tail.partial
      tail = await lastLine(this.file)
      tail = await this.put(tail, {
        event: 'audit.truncated',
        actor: 'daemon',
        source: 'local',
        detail: { bytes: cut },
      })
    }
    if (tail.size > 0 && tail.size >= this.maxBytes) {
      await rename(this.file, `${this.file}.1`)
      tail = { ...tail, size: 0 } // the chain goes on from the old file's last line
    }
    await this.put(tail, e)
  }

  private async put(tail: Tail, e: AuditEvent): Promise<Tail> {
    const line: AuditLine = {
      ts: this.now().toISOString(),
      event: e.event,
      actor: e.actor,
      source: e.source,
      ok: e.ok ?? true,
      detail: e.detail ?? {},
      prev: tail.line == null ? GENESIS_HASH : sha256(tail.line),
    }
    const text = JSON.stringify(line)
    const fh = await open(this.file, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o600)
    try {
      await fh.write(`${text}\n`)
      await fh.sync()
    } finally {
      await fh.close()
    }
    return { line: text, partial: 0, size: tail.size + Buffer.byteLength(text) + 1 }
  }
}

interface Tail {
  /** The last complete line (null: none, in this file or the rotated one). */
  line: string | null
  /** Bytes after the last newline (a fragment left by a crash). */
  partial: number
  size: number
}

async function lastLine(file: string): Promise<Tail> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch {
    size = 0
  }
  if (size === 0) {
    // a fresh file after rotation continues the rotated file's chain
    const older = await readTail(`${file}.1`).catch(() => null)
    return { line: older?.line ?? null, partial: 0, size: 0 }
  }
  return { ...(await readTail(file)), size }
}

async function readTail(file: string): Promise<{ line: string | null; partial: number }> {
  const fh = await open(file, 'r')
  try {
    const { size } = await fh.stat()
    const start = Math.max(0, size - TAIL_BYTES)
    const buf = Buffer.alloc(size - start)
    await fh.read(buf, 0, buf.length, start)
    const text = buf.toString('utf8')
    const end = text.lastIndexOf('\n')
    const partial = Buffer.byteLength(text.slice(end + 1))
    if (end < 0) return { line: null, partial }
    const before = text.lastIndexOf('\n', end - 1)
    return { line: text.slice(before + 1, end), partial }
  } finally {
    await fh.close()
  }
}

export interface AuditVerifyResult {
  ok: boolean
  /** Lines checked (both files). */
  lines: number
  /** The first line that breaks the chain: its file and 1-based line number, and why. */
  bad: { file: string; line: number; reason: string } | null
  /** The last line has no newline: an interrupted append (the lines before it verified). */
  truncated: { file: string; line: number } | null
  /** The chain starts at a rotated-away file: its first line could not be checked against its predecessor. */
  startsMidChain: boolean
}

function parseLine(text: string): AuditLine | null {
  try {
    const j = JSON.parse(text) as AuditLine
    if (typeof j !== 'object' || j == null || typeof j.prev !== 'string' || typeof j.event !== 'string')
      return null
    return j
  } catch {
    return null
  }
}

/** Checks the chain across audit.log.1 (when present) and audit.log. */
export async function verifyAudit(file: string): Promise<AuditVerifyResult> {
  const files: Array<{ path: string; text: string }> = []
  for (const path of [`${file}.1`, file]) {
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw err
    })
    if (text != null) files.push({ path, text })
  }
  const r: AuditVerifyResult = { ok: true, lines: 0, bad: null, truncated: null, startsMidChain: false }
  let prev: string | null = null
  for (const [fi, f] of files.entries()) {
    const lines = f.text.split('\n')
    const last = lines.pop() ?? '' // '' when the file ends with a newline
    for (const [i, text] of lines.entries()) {
      r.lines++
      const j = parseLine(text)
      const at = { file: f.path, line: i + 1 }
      if (j == null)
        return { ...r, ok: false, bad: { ...at, reason: 'is not an audit line (not JSON, or no prev)' } }
      const want = prev ?? GENESIS_HASH
      if (j.prev !== want) {
        if (prev == null && fi === 0 && i === 0) {
          // the file before this one was rotated away: the chain is checked from here on
          r.startsMidChain = true
        } else {
          return {
            ...r,
            ok: false,
            bad: {
              ...at,
              reason: `prev does not match the line before it: this line or the one before was changed, inserted or removed`,
            },
          }
        }
      }
      prev = sha256(text)
    }
    if (last !== '') {
      if (fi === files.length - 1) r.truncated = { file: f.path, line: lines.length + 1 }
      else
        return {
          ...r,
          ok: false,
          bad: { file: f.path, line: lines.length + 1, reason: 'has no newline but is not the last line' },
        }
    }
  }
  return r
}

/** Lines at or after `sinceMs` (ms since the epoch), oldest first, across both files. */
export async function readAudit(file: string, sinceMs = 0): Promise<AuditLine[]> {
  const out: AuditLine[] = []
  for (const path of [`${file}.1`, file]) {
    const text = await readFile(path, 'utf8').catch(() => '')
    for (const l of text.split('\n')) {
      const j = parseLine(l)
      if (j != null && Date.parse(j.ts) >= sinceMs) out.push(j)
    }
  }
  return out
}

/** The audit log in the state directory. */
export const AUDIT_FILE = 'audit.log'
