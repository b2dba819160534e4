// Prometheus metrics: scraped over HTTP from their own listener after real requests, each event counted once.
import t, { type Test } from 'tap'
import { PrometheusMetrics } from '../../src/metrics/prometheus-metrics'
import { noMetrics } from '../../src/metrics/metrics'
import { startMetricsServer } from '../../src/metrics/metrics-server'
import { createSqliteStore } from '../../src/store/sqlite-store'
import type { UserStore } from '../../src/store/user-store'
import { ManualClock } from '../../src/clock'
import { bearer, build, PASSWORD, register, START, testConfig, type AuthResultBody } from '../support/app'

/** The value of one sample (`name{labels} value`) in exposition text; undefined when the series is absent. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3])
  }
  return undefined
}

const silentLog = { info: () => {}, warn: () => {} }

async function scrape (t: Test, metrics: PrometheusMetrics): Promise<string> {
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, collect: async () => await metrics.text(), contentType: metrics.registry.contentType, log: silentLog })
  t.teardown(() => server.close())
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.equal((await fetch(`http://127.0.0.1:${server.port}/`)).status, 404, 'only /metrics is served')
  return await res.text()
}

t.test('a scrape after a login, a refresh, a failed login and a rate-limited request finds each counted', async (t) => {
  const metrics = new PrometheusMetrics()
  const { app } = await build(t, { metrics, env: { RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_ACCOUNT: '2/15m' } })
  const { refreshToken } = await register(app)
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  const refreshed = await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
  t.equal(refreshed.statusCode, 200)
  const failed = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: 'not the password at all' } })
  t.equal(failed.statusCode, 401)
  const limited = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(limited.statusCode, 429, 'the third login of the account is refused by login-account (2/15m)')
  const badRefresh = await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: 'a.b.c' } })
  t.equal(badRefresh.statusCode, 401)

  const token = login.json<AuthResultBody>().accessToken
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/v1/auth/whoami' })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer('not-a-jwt') })).statusCode, 401)

  const text = await scrape(t, metrics)
  t.equal(sample(text, 'tessera_logins_total', { result: 'success' }), 1, 'the login')
  t.equal(sample(text, 'tessera_logins_total', { result: 'invalid_credentials' }), 1, 'the failed login')
  t.equal(sample(text, 'tessera_refreshes_total', { result: 'success' }), 1, 'the refresh')
  t.equal(sample(text, 'tessera_refreshes_total', { result: 'invalid' }), 1, 'the malformed refresh token')
  t.equal(sample(text, 'tessera_rate_limited_total', { scope: 'login', limit: 'login-account' }), 1, 'the rate-limited login')
  t.equal(sample(text, 'tessera_token_checks_total', { result: 'valid' }), 3)
  t.equal(sample(text, 'tessera_token_checks_total', { result: 'missing' }), 1)
  t.equal(sample(text, 'tessera_token_checks_total', { result: 'invalid' }), 1)
  t.equal(sample(text, 'tessera_verify_cache_lookups_total', { kind: 'access', result: 'miss' }), 2, 'the first whoami and the bad token')
  t.equal(sample(text, 'tessera_verify_cache_lookups_total', { kind: 'access', result: 'hit' }), 2, 'the next two')
  t.ok((sample(text, 'tessera_password_hash_duration_seconds_count', { operation: 'hash' }) ?? 0) >= 1, 'argon2 hashing timed (registration)')
  t.ok((sample(text, 'tessera_password_hash_duration_seconds_count', { operation: 'verify' }) ?? 0) >= 2, 'argon2 verification timed (logins)')
  t.equal(sample(text, 'tessera_http_request_duration_seconds_count', { method: 'POST', route: '/v1/auth/login', status: '200' }), 1)
  t.equal(sample(text, 'tessera_http_request_duration_seconds_count', { method: 'POST', route: '/v1/auth/login', status: '429' }), 1)
  t.equal(sample(text, 'tessera_http_request_duration_seconds_count', { method: 'GET', route: '/v1/auth/whoami', status: '200' }), 3)
  t.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, "Node's runtime metrics")
  t.ok(sample(text, 'nodejs_eventloop_lag_p99_seconds') !== undefined, 'event-loop delay')
  t.ok(sample(text, 'nodejs_heap_size_used_bytes') !== undefined, 'heap')
  t.match(text, /# TYPE tessera_store_errors_total counter/, 'store errors declared before the first one')
})

t.test('reuse detected is a refresh result and ends the session (sessions_ended)', async (t) => {
  const metrics = new PrometheusMetrics({ defaultMetrics: false })
  const { app, clock } = await build(t, { metrics })
  const { refreshToken, accessToken } = await register(app)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })).statusCode, 200)
  clock.advance(60_000)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })).statusCode, 401)
  const other = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(other.json<AuthResultBody>().accessToken) })).statusCode, 204)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bearer(accessToken) })).statusCode, 204)
  const text = await metrics.text()
  t.equal(sample(text, 'tessera_refreshes_total', { result: 'reused' }), 1)
  t.equal(sample(text, 'tessera_sessions_ended_total', { reason: 'refresh_token_reused' }), 1)
  t.equal(sample(text, 'tessera_sessions_ended_total', { reason: 'logout' }), 1)
  t.equal(sample(text, 'tessera_sessions_ended_total', { reason: 'logout_all' }), undefined, 'no session was left to end')
})

t.test('request durations are labelled by route template: unmatched paths share one series', async (t) => {
  const metrics = new PrometheusMetrics({ defaultMetrics: false })
  const { app } = await build(t, { metrics })
  for (let i = 0; i < 25; i++) await app.inject({ method: 'GET', url: `/scan/${i}/wp-admin.php?x=${i}` })
  await app.inject({ method: 'GET', url: '/v1/users/0190a1b2-0000-7000-8000-000000000001' })
  await app.inject({ method: 'GET', url: '/v1/users/0190a1b2-0000-7000-8000-000000000002' })
  const text = await metrics.text()
  t.equal(sample(text, 'tessera_http_request_duration_seconds_count', { route: 'unmatched', status: '404' }), 25)
  t.equal(sample(text, 'tessera_http_request_duration_seconds_count', { route: '/v1/users/:id', status: '401' }), 2)
  t.notMatch(text, /scan|wp-admin|0190a1b2/, 'no raw URL is a label')
})

t.test('a failing store call is counted by operation; a refusal by design is not', async (t) => {
  const clock = new ManualClock(START)
  const real = createSqliteStore({ path: ':memory:', clock })
  let explode = false
  const store = new Proxy(real, {
    get (target, prop, receiver) {
      if (explode && prop === 'findByEmail') return async () => { throw new Error('disk on fire') }
      return Reflect.get(target, prop, receiver) as unknown
    }
  }) as UserStore
  const metrics = new PrometheusMetrics({ defaultMetrics: false })
  const { app } = await build(t, { metrics, store, clock })
  await register(app)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 'alice@example.com', password: PASSWORD } })).statusCode, 409)
  explode = true
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })).statusCode, 500)
  const text = await metrics.text()
  t.equal(sample(text, 'tessera_store_errors_total', { operation: 'findByEmail' }), 1)
  t.equal(sample(text, 'tessera_store_errors_total', { operation: 'create' }), undefined, '"email taken" is an answer, not a failure')
  t.equal(sample(text, 'tessera_logins_total', { result: 'error' }), 1)
})

t.test('without METRICS_PORT nothing is collected: the app gets noMetrics', async (t) => {
  t.equal(testConfig().metrics.port, undefined)
  const { app } = await build(t)
  t.equal(app.metrics, noMetrics)
  t.equal(app.metrics.enabled, false)
  const on = await build(t, { env: { METRICS_PORT: '0' } })
  t.ok(on.app.metrics instanceof PrometheusMetrics, 'METRICS_PORT set: Prometheus metrics')
})
