// A store outage told in a handful of log lines: when it starts, how many store calls failed while it lasts, when it
// ends. Without it every 503 of a database cut was an error with a stack: about 1,850 lines per instance in 15 s.
import type { Clock } from '../clock'
import { StoreUnavailableError, type UserStore } from './user-store'

/** What the outage lines are written through (a pino logger fits). */
export interface OutageLogger {
  warn (obj: object, msg: string): void
}

/** While an outage lasts, at most one "still unavailable" line per this many milliseconds. */
export const OUTAGE_REPORT_INTERVAL_MS = 5000

/** The first code of an error or of its causes (ECONNREFUSED, 57014…), so the start line says what failed without a stack. */
function causeCode (err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'ERR_STORE_UNAVAILABLE') return code
  }
  return undefined
}

function causeMessage (err: unknown): string | undefined {
  return err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined
}

/**
 * Follows the store's health from the outcome of its calls. A StoreUnavailableError starts an outage (one warn line
 * with the cause); later ones are counted (a request stops at its first failed call, so about one per 503) and
 * reported at most once per OUTAGE_REPORT_INTERVAL_MS; the first call that succeeds ends it (one warn line with its
 * length and count: it must show under LOG_LEVEL=warn, next to its start).
 */
export class OutageLog {
  private since: number | undefined
  private failedCalls = 0
  private lastReport = 0
  private failedAtLastReport = 0

  constructor (private readonly log: OutageLogger, private readonly clock: Clock, private readonly intervalMs = OUTAGE_REPORT_INTERVAL_MS) {}

  get inOutage (): boolean { return this.since !== undefined }

  failed (err: StoreUnavailableError): void {
    const now = this.clock.now()
    this.failedCalls++
    if (this.since === undefined) {
      this.since = now
      this.lastReport = now
      this.failedAtLastReport = this.failedCalls
      this.log.warn({ cause: causeCode(err), reason: causeMessage(err) }, 'store unavailable: answering 503 until it is back')
      return
    }
    if (now - this.lastReport >= this.intervalMs) {
      this.log.warn({ failedCalls: this.failedCalls, failedSinceLastReport: this.failedCalls - this.failedAtLastReport, outageMs: now - this.since },
        'store still unavailable')
      this.lastReport = now
      this.failedAtLastReport = this.failedCalls
    }
  }

  succeeded (): void {
    if (this.since === undefined) return
    this.log.warn({ failedCalls: this.failedCalls, outageMs: this.clock.now() - this.since }, 'store available again')
    this.since = undefined
    this.failedCalls = 0
  }
}

/**
 * The store, with every call's outcome reported to `outages`. Calls made once close() has begun are not: a closed
 * store refusing them is the shutdown, not an outage.
 */
export function watchOutages (store: UserStore, outages: OutageLog): UserStore {
  let closed = false
  const observe = (result: unknown): unknown => {
    if (!(result instanceof Promise)) return result
    return result.then((value: unknown) => {
      if (!closed) outages.succeeded()
      return value
    }, (err: unknown) => {
      if (!closed && err instanceof StoreUnavailableError) outages.failed(err)
      throw err
    })
  }
  // By function, not by name: a store may hand out another function under the same name (a test's failing store does).
  const wrapped = new WeakMap<object, unknown>()
  return new Proxy(store, {
    get (target, prop) {
      const value: unknown = Reflect.get(target, prop)
      if (typeof value !== 'function') return value
      let fn = wrapped.get(value)
      if (fn === undefined) {
        const method = value as (...args: unknown[]) => unknown
        fn = prop === 'close'
          ? (...args: unknown[]) => { closed = true; return method.apply(target, args) }
          : (...args: unknown[]) => {
              try {
                return observe(method.apply(target, args))
              } catch (err) {
                if (!closed && err instanceof StoreUnavailableError) outages.failed(err)
                throw err
              }
            }
        wrapped.set(value, fn)
      }
      return fn
    }
  })
}
