// Two real Tessera processes share one PostgreSQL schema and one key directory: sessions cross instances.
// PostgreSQL from test/support/postgres.ts.
import path from 'node:path'
import t from 'tap'
import { call, startServer } from '../e2e/server-process'
import { NEW_PASSWORD, PASSWORD } from '../support/passwords'
import { testDatabase } from '../support/postgres'

interface AuthResult { user: { id: string, email: string }, accessToken: string, refreshToken: string }


t.test('two instances, one PostgreSQL schema, one key directory', async (t) => {
  const db = await testDatabase(t)
  if (db === null) return
  const { admin } = db
  const { name: schema, url } = await db.freshSchema(t)

  const dir = t.testdir()
  const env = {
    DATABASE_URL: url,
    JWT_KEYS_DIR: path.join(dir, 'keys'),
    JWT_ALG: 'EdDSA',
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    RATE_LIMIT: 'off',
    LOG_LEVEL: 'info',
    WEB_CONCURRENCY: '1'
  }
  const a = await startServer(t, env)
  t.ok(a.logs.some((l) => l.msg === 'no signing key found: generated one'), 'A generates the signing key')
  const b = await startServer(t, env)
  t.notOk(b.logs.some((l) => l.msg === 'no signing key found: generated one'), 'B reuses the key A wrote')
  t.not(a.port, b.port, 'two ports')

  const tables = await admin.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])
  t.ok(tables.rows.some((r: { table_name: string }) => r.table_name === 'users'), 'the users table lives in the test schema')

  const email = 'multi@example.com'
  const reg = await call(a.baseUrl, 'POST', '/v1/auth/register', { email, password: PASSWORD })
  t.equal(reg.status, 201, 'register on A')

  const loginB = await call(b.baseUrl, 'POST', '/v1/auth/login', { email, password: PASSWORD })
  t.equal(loginB.status, 200, 'log in on B with the account created on A')
  const sessionB = loginB.json as unknown as AuthResult

  const whoami = await call(a.baseUrl, 'GET', '/v1/auth/whoami', undefined, sessionB.accessToken)
  t.equal(whoami.status, 200, "A accepts B's access token on whoami")
  t.equal(whoami.json.sub, sessionB.user.id)
  const me = await call(a.baseUrl, 'GET', '/v1/me', undefined, sessionB.accessToken)
  t.equal(me.status, 200, "A accepts B's access token on /v1/me")
  t.equal(me.json.email, email)

  const logoutAll = await call(a.baseUrl, 'POST', '/v1/auth/logout-all', undefined, sessionB.accessToken)
  t.equal(logoutAll.status, 204, 'logout-all on A')
  const refreshB = await call(b.baseUrl, 'POST', '/v1/auth/refresh', { refreshToken: sessionB.refreshToken })
  t.equal(refreshB.status, 401, "B refuses its own refresh token after A's logout-all")
  t.equal(refreshB.json.code, 'ERR_REFRESH_TOKEN_REVOKED')

  const loginA = await call(a.baseUrl, 'POST', '/v1/auth/login', { email, password: PASSWORD })
  t.equal(loginA.status, 200, 'log in again on A')
  const sessionA = loginA.json as unknown as AuthResult
  const loginB2 = await call(b.baseUrl, 'POST', '/v1/auth/login', { email, password: PASSWORD })
  t.equal(loginB2.status, 200, 'a fresh session on B for the password change')
  const sessionB2 = loginB2.json as unknown as AuthResult

  const change = await call(b.baseUrl, 'PUT', '/v1/me/password',
    { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, sessionB2.accessToken)
  t.equal(change.status, 200, 'password change on B')

  const refreshA = await call(a.baseUrl, 'POST', '/v1/auth/refresh', { refreshToken: sessionA.refreshToken })
  t.equal(refreshA.status, 401, "A refuses the refresh token it issued before B's password change")
  t.equal(refreshA.json.code, 'ERR_REFRESH_TOKEN_REVOKED')

  const relog = await call(a.baseUrl, 'POST', '/v1/auth/login', { email, password: NEW_PASSWORD })
  t.equal(relog.status, 200, 'A accepts the new password set through B')

  t.equal(a.stderr(), '', 'nothing on A stderr')
  t.equal(b.stderr(), '', 'nothing on B stderr')
})
