/** `meshlan up` and `meshlan down`: start and stop the daemon. */
import type { Command } from 'commander'
import { ctx, err, json, out } from '../io.ts'
import { applyRouteChange, routeChange, withRouteFlags } from './set.ts'
import { statusLine } from './status.ts'

export function registerLifecycle(program: Command): void {
  withRouteFlags(
    program
      .command('up')
      .description('start the node (spawns the daemon unless --foreground); route flags are saved')
      .option('--foreground', 'run the daemon in this process, logging to stderr'),
  ).action(async (o: Parameters<typeof routeChange>[0] & { foreground?: boolean }, cmd: Command) => {
    const { client, json: asJson } = ctx(cmd)
    await client.state.ensure()
    const { loadConfig, runDaemonProcess } = await import('@meshlan/daemon')
    await loadConfig(client.state.dir) // config errors surface here, not in the log
    const change = routeChange(o)
    // saved first (or, on a running daemon, applied live): `up` with flags is `set` + start
    if (Object.keys(change).length > 0) await applyRouteChange(client, change)
    if (await client.daemonRunning()) {
      err('the meshlan daemon is already running')
    } else if (o.foreground) {
      // the systemd unit's ExecStart: signals, SIGHUP reload and sd_notify as the spawned daemon
      // exit, as the daemon's own entry does, once it has stopped: a handle left by a start that
      // failed half-way (seen with a broken bundle: admin and metrics never came up) kept the
      // process alive without a daemon, and systemd waits for a process that never ends
      process.exit(await runDaemonProcess(client.state.dir))
    } else {
      try {
        await client.spawnDaemon()
      } catch (e) {
        const tail = await client.logTail()
        if (tail !== '') err(`--- last lines of ${client.state.path('log')} ---\n${tail}\n---`)
        throw e
      }
    }
    const info = await client.call('info', {})
    if (info.node == null) {
      if (asJson) return json({ pid: info.pid, status: null })
      out(`meshlan is up (pid ${info.pid}); this node is in no network yet`)
      err('next: `meshlan network create NAME` or `meshlan join -` (paste the join string)')
      return
    }
    const s = await client.call('status', {})
    if (asJson) json({ pid: info.pid, status: s })
    else out(`meshlan is up (pid ${info.pid}): ${statusLine(s)}`)
  })

  program
    .command('down')
    .description('stop the node and wait until the daemon has exited')
    .action(async (_o, cmd: Command) => {
      const { client, json: asJson } = ctx(cmd)
      if (!(await client.daemonRunning())) {
        if (asJson) json({ stopped: false, pid: null })
        else err('the meshlan daemon is not running')
        return
      }
      const pid = await client.stopDaemon()
      if (asJson) json({ stopped: true, pid })
      else out(`meshlan is down (pid ${pid} exited)`)
    })
}
