/** Tears labs down when the process exits or is told to stop, even if a test forgets to. */

interface Teardownable {
  teardownSync(): void
}

const labs = new Set<Teardownable>()
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let installed = false

function teardownAll(): void {
  for (const lab of [...labs]) {
    try {
      lab.teardownSync()
    } catch {}
  }
  labs.clear()
}

function onExit(): void {
  teardownAll()
}

function onSignal(signal: NodeJS.Signals): void {
  // If nobody else handles this signal, restore the default behaviour afterwards (die by it).
  const alone = process.listenerCount(signal) === 1
  teardownAll()
  if (alone) {
    uninstall()
    process.kill(process.pid, signal)
  }
}

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', onExit)
  for (const s of SIGNALS) process.on(s, onSignal)
}

function uninstall(): void {
  if (!installed) return
  installed = false
  process.off('exit', onExit)
  for (const s of SIGNALS) process.off(s, onSignal)
}

export function registerLab(lab: Teardownable): void {
  labs.add(lab)
  install()
}

export function unregisterLab(lab: Teardownable): void {
  labs.delete(lab)
  if (labs.size === 0) uninstall()
}
