// The Prometheus implementation of Metrics (prom-client), in a registry of its own so several apps in one process
// (the tests) never clash; a cluster worker hands that registry to prom-client's AggregatorRegistry (metrics-server.ts).
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client'
import type { Metrics } from './metrics'

/** Seconds: a whoami takes well under a millisecond, a login tens to hundreds (argon2), a store timeout seconds. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** argon2id at OWASP settings takes 20-100 ms on one core; the tail shows a saturated thread pool. */
const HASH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/**
 * A label set's child, made once: prom-client hashes the label object on every inc() otherwise, and the counters on
 * the request path (token checks, cache lookups, the request histogram) run on every request.
 */
function children<C> (make: (key: string) => C): (key: string) => C {
  const made = new Map<string, C>()
  return (key) => {
    let child = made.get(key)
    if (child === undefined) {
      child = make(key)
      made.set(key, child)
    }
    return child
  }
}

export class PrometheusMetrics implements Metrics {
  readonly enabled = true
  readonly registry = new Registry()

  // Every family is declared up front, so a scrape lists each one (HELP and TYPE) before its first event.
  private readonly loginsTotal = this.counter('tessera_logins_total', 'Login attempts by result', ['result'])
  private readonly refreshesTotal = this.counter('tessera_refreshes_total', 'Refresh token exchanges by result (reused: reuse detected, the session ended)', ['result'])
  private readonly tokenChecksTotal = this.counter('tessera_token_checks_total', 'Access-token checks of protected routes by result', ['result'])
  private readonly rateLimitedTotal = this.counter('tessera_rate_limited_total', 'Requests refused by an abuse limit (429), by scope and limit', ['scope', 'limit'])
  private readonly sessionsEndedTotal = this.counter('tessera_sessions_ended_total', 'Sessions ended, by reason', ['reason'])
  private readonly storeErrorsTotal = this.counter('tessera_store_errors_total', 'Store calls that failed (unreachable, timed out, or an unexpected error), by store method', ['operation'])
  private readonly hashSeconds = this.histogram('tessera_password_hash_duration_seconds', 'Duration of each argon2id hash or verification', ['operation'], HASH_BUCKETS)
  private readonly cacheLookupsTotal = this.counter('tessera_verify_cache_lookups_total', 'Verified-token cache lookups by token kind and result (hit, miss)', ['kind', 'result'])
  private readonly requestSeconds = this.histogram('tessera_http_request_duration_seconds', 'HTTP request duration by method, route template and status', ['method', 'route', 'status'], REQUEST_BUCKETS)

  private readonly logins = children((result) => this.loginsTotal.labels(result))
  private readonly refreshes = children((result) => this.refreshesTotal.labels(result))
  private readonly tokenChecks = children((result) => this.tokenChecksTotal.labels(result))
  private readonly limited = children((key) => this.rateLimitedTotal.labels(...key.split(' ')))
  private readonly ended = children((reason) => this.sessionsEndedTotal.labels(reason))
  private readonly storeErrors = children((operation) => this.storeErrorsTotal.labels(operation))
  private readonly hashes = children((operation) => this.hashSeconds.labels(operation))
  private readonly cache = children((key) => this.cacheLookupsTotal.labels(...key.split(' ')))
  private readonly requests = children((key) => this.requestSeconds.labels(...key.split(' ')))

  constructor (options: { defaultMetrics?: boolean } = {}) {
    // Event-loop delay, heap, GC, CPU, handles: prom-client's defaults.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  private counter (name: string, help: string, labelNames: string[]): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }

  private histogram (name: string, help: string, labelNames: string[], buckets: number[]): Histogram {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] })
  }

  login (result: string): void { this.logins(result).inc() }
  refresh (result: string): void { this.refreshes(result).inc() }
  tokenCheck (result: string): void { this.tokenChecks(result).inc() }
  rateLimited (scope: string, limit: string): void { this.limited(`${scope} ${limit}`).inc() }
  sessionsEnded (reason: string, count: number): void { if (count > 0) this.ended(reason).inc(count) }
  storeError (operation: string): void { this.storeErrors(operation).inc() }
  passwordHash (operation: string, seconds: number): void { this.hashes(operation).observe(seconds) }
  verifyCache (kind: string, hit: boolean): void { this.cache(hit ? `${kind} hit` : `${kind} miss`).inc() }
  request (method: string, route: string, status: number, seconds: number): void { this.requests(`${method} ${route} ${status}`).observe(seconds) }

  /** The text exposition of this registry alone (one process). */
  async text (): Promise<string> { return await this.registry.metrics() }
}
