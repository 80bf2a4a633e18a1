/** Interface configuration with the `ip` command (iproute2), and option checks. */
import { execFileSync } from 'node:child_process'
import { isIP } from 'node:net'
import { TunConfigError, TunOptionsError, TunPermissionError, TunUnavailableError } from './errors.ts'

/** A parsed CIDR, or why it is bad (bad input is a value, not an exception). */
export type CidrResult =
  | { ok: true; address: string; prefix: number; family: 4 | 6 }
  | { ok: false; reason: string }

/**
 * Parses `10.144.0.1/16` or `fd00::1/64`. Kept here, not taken from @meshlan/wire's cidr.ts: tun
 * imports nothing of ours, takes IPv6 too, and needs only a check before the text goes to `ip`
 * (node:net's isIP does the address; the prefix is the one thing parsed here).
 */
export function parseCidr(cidr: string): CidrResult {
  if (typeof cidr !== 'string') return { ok: false, reason: 'not a string' }
  const slash = cidr.indexOf('/')
  if (slash < 0) return { ok: false, reason: 'missing /prefix (e.g. 10.144.0.1/16)' }
  const address = cidr.slice(0, slash)
  const prefixText = cidr.slice(slash + 1)
  const family = isIP(address)
  if (family !== 4 && family !== 6) return { ok: false, reason: `${address} is not an IP address` }
  if (!/^\d{1,3}$/.test(prefixText)) return { ok: false, reason: `bad prefix length ${prefixText}` }
  const prefix = Number(prefixText)
  if (prefix > (family === 4 ? 32 : 128)) return { ok: false, reason: `prefix /${prefix} too long` }
  return { ok: true, address, prefix, family }
}

/** Checks a CIDR option, throwing TunOptionsError when it is bad. */
export function checkCidr(option: string, cidr: string): { address: string; prefix: number; family: 4 | 6 } {
  const r = parseCidr(cidr)
  if (!r.ok) throw new TunOptionsError(option, `bad CIDR ${JSON.stringify(cidr)}: ${r.reason}`)
  return r
}

/** Runs `ip -batch -` with the given command lines in one process. */
export function runIp(lines: string[]): void {
  const input = lines.join('\n') + '\n'
  try {
    execFileSync('ip', ['-batch', '-'], { input, stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer }
    if (e.code === 'ENOENT') {
      throw new TunUnavailableError(
        'the ip command (iproute2) is not installed: apt-get install iproute2; also',
        {
          cause: err,
        },
      )
    }
    const stderr = (e.stderr?.toString() ?? String(err)).trim()
    const command = `ip ${lines.join('; ')}`
    if (/Operation not permitted|Permission denied/i.test(stderr)) {
      throw new TunPermissionError(`${command}: ${stderr}`, { cause: err })
    }
    throw new TunConfigError(command, stderr, { cause: err })
  }
}

/** The `ip` line adding an address (IPv6 without duplicate address detection delays). */
export function addressLine(verb: 'add' | 'del', name: string, cidr: string): string {
  const { family } = checkCidr('address', cidr)
  return `address ${verb} ${cidr} dev ${name}${family === 6 && verb === 'add' ? ' nodad' : ''}`
}

/** Integer option check. */
export function checkInt(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TunOptionsError(option, `must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/** Interface name check (the kernel allows up to 15 bytes, no '/', no whitespace, not '.'/'..'). */
export function checkName(name: string, maxLen: number): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    Buffer.byteLength(name) > maxLen ||
    /[\s/:]/.test(name) ||
    name === '.' ||
    name === '..'
  ) {
    throw new TunOptionsError(
      'name',
      `bad interface name ${JSON.stringify(name)}: use 1-${maxLen} bytes without spaces, '/' or ':'`,
    )
  }
  return name
}
