import { LabCommandError } from './errors.ts'
import type { Host } from './host.ts'
import type { LabProcess } from './process.ts'
import type { ExecResult } from './run.ts'
import { waitFor } from './wait.ts'

/** What the receiving side of one iperf3 run counted. */
export interface Iperf3Received {
  bytes: number
  seconds: number
  bitsPerSecond: number
}

/**
 * Starts `iperf3 -s` on `host` and returns once it listens. Why wait: a client started before the
 * listener gets "connection refused", and iperf3 3.12 with `-J` reports that with exit code 0 and an
 * empty `end` object, so the caller would see a success with no numbers.
 */
export async function startIperf3Server(host: Host, port: number, timeoutMs = 5000): Promise<LabProcess> {
  const server = host.spawn('iperf3', ['-s', '-p', String(port)])
  try {
    await waitFor(async () => (await host.exec('ss', ['-Hltn', `sport = :${port}`])).stdout.trim() !== '', {
      timeoutMs,
      what: `iperf3 listening on ${host.name}:${port}`,
    })
  } catch (err) {
    server.kill()
    throw err
  }
  return server
}

/**
 * The receiver's totals from the output of `iperf3 -J`. Throws LabCommandError with iperf3's own
 * error when the run failed, whatever the exit code said (see startIperf3Server).
 */
export function iperf3Received(r: ExecResult): Iperf3Received {
  let doc: {
    error?: string
    end?: { sum_received?: { bytes: number; seconds: number; bits_per_second: number } }
  }
  try {
    doc = JSON.parse(r.stdout)
  } catch {
    throw new LabCommandError('iperf3 -J', r.code, `${r.stderr}${r.stdout.slice(0, 500)}`)
  }
  const sum = doc.end?.sum_received
  if (r.code !== 0 || doc.error !== undefined || sum === undefined)
    throw new LabCommandError('iperf3 -J', r.code, doc.error ?? r.stderr ?? 'no sum_received in the output')
  return { bytes: sum.bytes, seconds: sum.seconds, bitsPerSecond: sum.bits_per_second }
}
