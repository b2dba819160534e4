// Deleting old rows in bounded batches, started by ordinary writes at most once per interval (sessions, security events).
import type { Clock } from '../clock'
import { StoreUnavailableError } from '../store/user-store'

interface Log { warn (obj: object, msg: string): void }

const HOUR_MS = 60 * 60 * 1000

export interface PeriodicPurgeOptions {
  clock: Clock
  /** At most one purge per this many milliseconds per instance (default: an hour). */
  intervalMs?: number
  /** Rows per statement, so a large backlog never holds locks for long (default 1000). */
  batch?: number
  /** How old a row must be to go, in seconds. */
  keepSeconds: number
  /** Delete at most `batch` rows older than `before`; answers how many went. */
  purge: (before: Date, batch: number) => Promise<number>
  log: Log
  /** The warning when a purge fails. */
  failure: string
}

/**
 * Opportunistic: `maybeRun()` starts a purge when the interval has passed and returns at once; nothing waits for it.
 * A failed purge is retried at the next call.
 */
export class PeriodicPurge {
  private last = Number.NEGATIVE_INFINITY

  constructor (private readonly options: PeriodicPurgeOptions) {}

  maybeRun (): void {
    const { clock, intervalMs = HOUR_MS, batch = 1000, keepSeconds, purge, log, failure } = this.options
    const now = clock.now()
    if (now - this.last < intervalMs) return
    this.last = now
    const before = new Date(now - keepSeconds * 1000)
    const run = async (): Promise<void> => {
      let deleted: number
      do deleted = await purge(before, batch)
      while (deleted === batch)
    }
    run().catch((err: unknown) => {
      // A store outage is logged once, by src/store/outage-log.ts.
      if (!(err instanceof StoreUnavailableError)) log.warn({ err: err instanceof Error ? err.message : String(err) }, failure)
      this.last = Number.NEGATIVE_INFINITY
    })
  }
}
