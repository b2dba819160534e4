// Bench-only helper for preloads: on PROBE_SIGNAL (and at exit) write a JSON snapshot to $BENCH_PROBE_FILE.
// Preloads (`node --import …`) let the bench look inside a server without touching src/ or its API.
import { renameSync, writeFileSync } from 'node:fs'

/**
 * Not SIGUSR2: Tessera's close-with-grace takes SIGUSR2 as a shutdown request (nodemon's restart signal).
 * SIGUSR1 starts Node's inspector. SIGURG is ignored by default, nothing in Tessera listens to it, and no
 * terminal sends it (SIGWINCH would arrive on every resize of the terminal running the bench).
 */
export const PROBE_SIGNAL = 'SIGURG'

/** `snapshot` runs in the server process; the file is replaced atomically and carries a growing `seq`. */
export function writeOnSignal (snapshot: () => Record<string, unknown>): void {
  const file = process.env.BENCH_PROBE_FILE
  if (file === undefined || file === '') return
  let seq = 0
  const write = (): void => {
    seq++
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify({ seq, pid: process.pid, ...snapshot() }))
    renameSync(tmp, file)
  }
  process.on(PROBE_SIGNAL, write)
  process.on('exit', write)
}

/** A full garbage collection when the process runs with --expose-gc; false without it. */
export function fullGc (): boolean {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return false
  // Twice: the first pass can leave objects only the second frees (weak references, finalizers).
  gc()
  gc()
  return true
}
