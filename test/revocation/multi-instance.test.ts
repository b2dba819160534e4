// Two real Tessera processes in hybrid mode on one PostgreSQL schema: a revocation on A reaches B at once through Redis
// pub/sub, and within REVOCATION_CACHE_TTL when Redis is unreachable, which never turns into a 5xx.
// PostgreSQL from test/support/postgres.ts; the first test needs Redis too (test/support/services.ts).
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import t, { type Test } from 'tap'
import { call, startServer, type Answer, type ServerProcess } from '../e2e/server-process'
import { PASSWORD } from '../support/passwords'
import { testDatabase } from '../support/postgres'
import { REDIS_URL, requireService } from '../support/services'

interface AuthResult { accessToken: string, refreshToken: string }


/** Poll B's whoami every 10 ms until it answers 401; every answer seen, and how long it took from the start. */
async function pollUntilRefused (server: ServerProcess, token: string, limitMs: number): Promise<{ ms: number, statuses: number[], last: Answer }> {
  const started = performance.now()
  const statuses: number[] = []
  let last: Answer = { status: 0, json: {} }
  while (performance.now() - started < limitMs) {
    last = await call(server.baseUrl, 'GET', '/v1/auth/whoami', undefined, token)
    statuses.push(last.status)
    if (last.status === 401) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return { ms: performance.now() - started, statuses, last }
}

/** A fresh schema on the run's server, dropped after the servers are killed; null when the test is skipped. */
async function freshDatabase (t: Test): Promise<string | null> {
  const db = await testDatabase(t)
  return db === null ? null : (await db.freshSchema(t)).url
}

async function twoInstances (t: Test, extra: Record<string, string>): Promise<{ a: ServerProcess, b: ServerProcess } | null> {
  const databaseUrl = await freshDatabase(t)
  if (databaseUrl === null) return null
  const env = {
    DATABASE_URL: databaseUrl,
    JWT_KEYS_DIR: path.join(t.testdir(), 'keys'),
    // Its own issuer, hence its own Redis channel: test files running at the same time do not hear each other.
    JWT_ISSUER: `tessera-${randomBytes(4).toString('hex')}`,
    REVOCATION_MODE: 'hybrid',
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    RATE_LIMIT: 'off',
    // info: startServer waits for Fastify's "Server listening" line.
    LOG_LEVEL: 'info',
    ...extra
  }
  const a = await startServer(t, env)
  const b = await startServer(t, env)
  return { a, b }
}

async function session (a: ServerProcess, b: ServerProcess, email: string): Promise<AuthResult> {
  const reg = await call(a.baseUrl, 'POST', '/v1/auth/register', { email, password: PASSWORD })
  if (reg.status !== 201) throw new Error(`register: ${reg.status}`)
  const login = await call(b.baseUrl, 'POST', '/v1/auth/login', { email, password: PASSWORD })
  if (login.status !== 200) throw new Error(`login: ${login.status}`)
  return login.json as unknown as AuthResult
}

t.test('with Redis: logout and logout-all on A are refused on B at once (well inside a 10-minute TTL)', async (t) => {
  if (!await requireService(t, 'redis')) return
  const servers = await twoInstances(t, { REDIS_URL, REVOCATION_CACHE_TTL: '10m' })
  if (servers === null) return
  const { a, b } = servers
  for (const route of ['/v1/auth/logout', '/v1/auth/logout-all']) {
    const s = await session(a, b, `${route.slice(9)}@example.com`)
    // B has served the token: its state is cached for ten minutes, so only the message can change B's mind.
    t.equal((await call(b.baseUrl, 'GET', '/v1/auth/whoami', undefined, s.accessToken)).status, 200)
    t.equal((await call(a.baseUrl, 'POST', route, undefined, s.accessToken)).status, 204, `${route} on A`)
    // The bound only keeps a broken build from hanging; anything under the 10-minute TTL came through Redis.
    const polled = await pollUntilRefused(b, s.accessToken, 30_000)
    t.equal(polled.last.status, 401, `${route}: refused on B after ${Math.round(polled.ms)} ms (${polled.statuses.length} polls)`)
    t.equal(polled.last.json.code, 'ERR_TOKEN_REVOKED')
    const refreshed = await call(b.baseUrl, 'POST', '/v1/auth/refresh', { refreshToken: s.refreshToken })
    t.equal(refreshed.status, 401, 'and its refresh token on B')
    t.equal(refreshed.json.code, 'ERR_REFRESH_TOKEN_REVOKED')
  }
  t.equal(a.stderr(), '', 'nothing on A stderr')
  t.equal(b.stderr(), '', 'nothing on B stderr')
})

t.test('Redis unreachable on both: refused on B once REVOCATION_CACHE_TTL (1 s) runs out, never a 5xx', async (t) => {
  const servers = await twoInstances(t, { REDIS_URL: 'redis://127.0.0.1:1', REVOCATION_CACHE_TTL: '1s' })
  if (servers === null) return
  const { a, b } = servers
  const s = await session(a, b, 'noredis@example.com')
  t.equal((await call(b.baseUrl, 'GET', '/v1/auth/whoami', undefined, s.accessToken)).status, 200, 'B caches the state')
  const logout = await call(a.baseUrl, 'POST', '/v1/auth/logout', undefined, s.accessToken)
  t.equal(logout.status, 204, 'logout answers although it cannot publish')
  // How soon is not asserted (a busy machine is slow): the TTL itself is tested on a ManualClock in store-reads.test.ts.
  const polled = await pollUntilRefused(b, s.accessToken, 30_000)
  t.equal(polled.last.status, 401, `refused on B after ${Math.round(polled.ms)} ms`)
  t.equal(polled.last.json.code, 'ERR_TOKEN_REVOKED')
  t.ok(polled.statuses.every((status) => status === 200 || status === 401), `every poll answered 200 or 401: ${[...new Set(polled.statuses)].join(', ')}`)

  // The rest of the API does not care that Redis is down either.
  const other = await session(b, a, 'still@example.com')
  t.equal((await call(a.baseUrl, 'POST', '/v1/auth/refresh', { refreshToken: other.refreshToken })).status, 200)
  t.equal((await call(a.baseUrl, 'GET', '/v1/auth/whoami', undefined, other.accessToken)).status, 200, 'A caches the state')
  t.equal((await call(b.baseUrl, 'POST', '/v1/auth/logout-all', undefined, other.accessToken)).status, 204)
  const refused = await pollUntilRefused(a, other.accessToken, 30_000)
  t.equal(refused.last.status, 401, `logout-all on B: refused on A after ${Math.round(refused.ms)} ms`)
  t.ok(refused.statuses.every((status) => status === 200 || status === 401), 'never a 5xx')
  t.ok(a.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('redis unavailable: revocations')), 'A says why, once')
})
