// The Prometheus implementation of Metrics, in a registry of its own so several apps in one process (the tests) never
// clash; a cluster worker hands that registry to prom-client's AggregatorRegistry (metrics-server.ts). Tessera's own
// series are plain increments (series.ts); prom-client formats them, and collects Node's runtime metrics, at a scrape.
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { LoginResult, Metrics, PasswordHashOperation, RefreshResult, TokenCheckResult } from './metrics'
import { CounterFamily, HistogramFamily, observe, type CounterSeries, type HistogramSeries } from './series'

/** Seconds: a whoami takes well under a millisecond, a login tens to hundreds (argon2), a store timeout seconds. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** argon2id at OWASP settings takes 20-100 ms on one core; the tail shows a saturated thread pool. */
const HASH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** Every label, so each series exists from the start; a Record, so the compiler refuses a result left out. */
const TOKEN_CHECK_RESULTS = Object.keys({
  valid: 0, missing: 0, malformed: 0, invalid: 0, expired: 0, revoked: 0, dpop_invalid: 0, error: 0
} satisfies Record<TokenCheckResult, 0>) as TokenCheckResult[]

export class PrometheusMetrics implements Metrics {
  readonly enabled = true
  readonly registry = new Registry()

  // Every family is registered up front, so a scrape lists each one (HELP and TYPE) before its first event.
  private readonly logins = new CounterFamily('tessera_logins_total', 'Login attempts by result', ['result'], this.registry)
  private readonly refreshes = new CounterFamily('tessera_refreshes_total', 'Refresh token exchanges by result (reused: reuse detected, the session ended)', ['result'], this.registry)
  private readonly tokenChecks = new CounterFamily('tessera_token_checks_total', 'Access-token checks of protected routes by result', ['result'], this.registry)
  private readonly limited = new CounterFamily('tessera_rate_limited_total', 'Requests refused by an abuse limit (429), by scope and limit', ['scope', 'limit'], this.registry)
  private readonly ended = new CounterFamily('tessera_sessions_ended_total', 'Sessions ended, by reason', ['reason'], this.registry)
  private readonly storeErrors = new CounterFamily('tessera_store_errors_total', 'Store calls that failed (unreachable, timed out, or an unexpected error), by store method', ['operation'], this.registry)
  private readonly hashes = new HistogramFamily('tessera_password_hash_duration_seconds', 'Duration of each argon2id hash or verification', ['operation'], HASH_BUCKETS, this.registry)
  private readonly cacheLookups = new CounterFamily('tessera_verify_cache_lookups_total', 'Verified-token cache lookups by token kind and result (hit, miss)', ['kind', 'result'], this.registry)
  private readonly requests = new HistogramFamily('tessera_http_request_duration_seconds', 'HTTP request duration by method, route template and status', ['method', 'route', 'status'], REQUEST_BUCKETS, this.registry)

  /** The series every request may touch, looked up by property rather than by building a key. */
  private readonly checks = Object.fromEntries(TOKEN_CHECK_RESULTS.map((r) => [r, this.tokenChecks.with(r)])) as Record<TokenCheckResult, CounterSeries>
  private readonly cache = new Map<string, { hit: CounterSeries, miss: CounterSeries }>()
  /** route → method → status → series: three map reads and no string built per request. */
  private readonly byRoute = new Map<string, Map<string, Map<number, HistogramSeries>>>()

  constructor (options: { defaultMetrics?: boolean } = {}) {
    // Event-loop delay, heap, GC, CPU, handles: prom-client's defaults.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  login (result: LoginResult): void { this.logins.with(result).value++ }
  refresh (result: RefreshResult): void { this.refreshes.with(result).value++ }
  tokenCheck (result: TokenCheckResult): void { this.checks[result].value++ }
  rateLimited (scope: string, limit: string): void { this.limited.with(scope, limit).value++ }
  sessionsEnded (reason: string, count: number): void { if (count > 0) this.ended.with(reason).value += count }
  storeError (operation: string): void { this.storeErrors.with(operation).value++ }
  passwordHash (operation: PasswordHashOperation, seconds: number): void { observe(this.hashes.with(operation), seconds) }

  verifyCache (kind: string, hit: boolean): void {
    let series = this.cache.get(kind)
    if (series === undefined) {
      series = { hit: this.cacheLookups.with(kind, 'hit'), miss: this.cacheLookups.with(kind, 'miss') }
      this.cache.set(kind, series)
    }
    if (hit) series.hit.value++
    else series.miss.value++
  }

  request (method: string, route: string, status: number, seconds: number): void {
    let methods = this.byRoute.get(route)
    if (methods === undefined) this.byRoute.set(route, methods = new Map())
    let statuses = methods.get(method)
    if (statuses === undefined) methods.set(method, statuses = new Map())
    let series = statuses.get(status)
    if (series === undefined) statuses.set(status, series = this.requests.with(method, route, String(status)))
    observe(series, seconds)
  }

  /** The text exposition of this registry alone (one process). */
  async text (): Promise<string> { return await this.registry.metrics() }
}
