// POST /v1/auth/refresh and logout-all: rotation, expiry with clock tolerance, absolute session lifetime, revocation.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { assertProblem, bearer, build, PASSWORD, register, registerAdmin, type AuthResultBody } from '../../support/app'

const MINUTE = 60_000

const refresh = (app: FastifyInstance, refreshToken: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })

const whoami = (app: FastifyInstance, accessToken: string) =>
  app.inject({ url: '/v1/auth/whoami', headers: bearer(accessToken) })

const payloadOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
const headerOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>

t.test('rotation returns new tokens for the same user', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  ctx.clock.advance(5 * MINUTE)
  const res = await refresh(ctx.app, reg.refreshToken)
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json<AuthResultBody>()
  t.same(body.user, reg.user)
  t.equal(body.tokenType, 'Bearer')
  t.equal(body.expiresIn, 900)
  t.equal(body.refreshExpiresIn, 30 * 24 * 3600)
  t.not(body.refreshToken, reg.refreshToken, 'the refresh token rotates')
  t.not(body.accessToken, reg.accessToken)
  t.not(payloadOf(body.refreshToken).jti, payloadOf(reg.refreshToken).jti)
  t.equal((await whoami(ctx.app, body.accessToken)).statusCode, 200, 'the new access token works')
  t.equal((await refresh(ctx.app, body.refreshToken)).statusCode, 200, 'the new refresh token works')

  t.equal(body.sessionId, reg.sessionId, 'the session goes on')
  // Each refresh token works once (past REFRESH_REUSE_GRACE): test/routes/refresh-reuse.test.ts.
})

t.test('token headers and claims', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  t.match(headerOf(reg.accessToken), { alg: 'EdDSA', typ: 'at+jwt', kid: ctx.key.kid })
  t.match(headerOf(reg.refreshToken), { alg: 'EdDSA', typ: 'rt+jwt', kid: ctx.key.kid })
  const now = Math.floor(ctx.clock.now() / 1000)
  t.same(Object.keys(payloadOf(reg.refreshToken)).sort(), ['aud', 'auth_time', 'ctr', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub', 'ver'])
  t.match(payloadOf(reg.refreshToken), {
    iss: 'tessera', aud: 'tessera', sub: reg.user.id, ver: 0, sid: reg.sessionId, ctr: 0, auth_time: now, iat: now, exp: now + 30 * 24 * 3600
  })
  t.match(payloadOf(reg.accessToken), { iss: 'tessera', aud: 'tessera-api', sub: reg.user.id, role: 'user', sid: reg.sessionId, iat: now, exp: now + 900 })
  t.match(reg.sessionId, /^[A-Za-z0-9_-]{16}$/)
})

t.test('a refresh token expires after REFRESH_TOKEN_TTL', async (t) => {
  const ctx = await build(t, { env: { REFRESH_TOKEN_TTL: '10m' } })
  const reg = await register(ctx.app)
  t.equal(reg.refreshExpiresIn, 600)
  ctx.clock.advance(9 * MINUTE)
  t.equal((await refresh(ctx.app, reg.refreshToken)).statusCode, 200, 'before expiry')
  ctx.clock.advance(2 * MINUTE)
  assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_EXPIRED')
})

t.test('clock tolerance: 30 s by default', async (t) => {
  const cases = [
    { past: 0, status: 200 },
    { past: 20, status: 200 },
    { past: 30, status: 200 },
    { past: 31, status: 401 },
    { past: 3600, status: 401 }
  ]
  for (const c of cases) {
    await t.test(`${c.past} s past exp`, async (t) => {
      const ctx = await build(t, { env: { REFRESH_TOKEN_TTL: '5m' } })
      const reg = await register(ctx.app)
      ctx.clock.advance((300 + c.past) * 1000)
      const res = await refresh(ctx.app, reg.refreshToken)
      if (c.status === 200) t.equal(res.statusCode, 200, res.body)
      else assertProblem(t, res, 401, 'ERR_REFRESH_TOKEN_EXPIRED')
    })
  }
})

t.test('SESSION_MAX_AGE holds across rotations', async (t) => {
  const ctx = await build(t, { env: { SESSION_MAX_AGE: '1h', REFRESH_TOKEN_TTL: '40m' } })
  const reg = await register(ctx.app)
  t.equal(reg.refreshExpiresIn, 40 * 60)
  const authTime = payloadOf(reg.refreshToken).auth_time

  ctx.clock.advance(30 * MINUTE)
  const r1 = await refresh(ctx.app, reg.refreshToken)
  t.equal(r1.statusCode, 200, r1.body)
  const b1 = r1.json<AuthResultBody>()
  t.equal(b1.refreshExpiresIn, 30 * 60, 'capped by the session end, not 40 minutes')
  t.equal(payloadOf(b1.refreshToken).exp, (authTime as number) + 3600)
  t.equal(payloadOf(b1.refreshToken).auth_time, authTime, 'auth_time carried through the rotation')

  ctx.clock.advance(25 * MINUTE) // 55 min into the session
  const r2 = await refresh(ctx.app, b1.refreshToken)
  t.equal(r2.statusCode, 200, r2.body)
  const b2 = r2.json<AuthResultBody>()
  t.equal(b2.refreshExpiresIn, 5 * 60)
  t.equal(payloadOf(b2.refreshToken).auth_time, authTime, 'auth_time carried through a second rotation')

  ctx.clock.advance(5 * MINUTE) // exactly 60 min: the newest refresh token is within its lifetime
  assertProblem(t, await refresh(ctx.app, b2.refreshToken), 401, 'ERR_SESSION_EXPIRED')
  ctx.clock.advance(10_000) // still within the clock tolerance of the token's exp
  assertProblem(t, await refresh(ctx.app, b2.refreshToken), 401, 'ERR_SESSION_EXPIRED')

  const login = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  const fresh = login.json<AuthResultBody>()
  t.equal(fresh.refreshExpiresIn, 40 * 60, 'a new login starts a new session')
  t.ok((payloadOf(fresh.refreshToken).auth_time as number) > (authTime as number))
})

t.test('an access token is not a refresh token and vice versa', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  assertProblem(t, await refresh(ctx.app, reg.accessToken), 401, 'ERR_REFRESH_TOKEN_INVALID')
  const res = await whoami(ctx.app, reg.refreshToken)
  assertProblem(t, res, 401, 'ERR_TOKEN_INVALID')
  t.match(res.headers['www-authenticate'], /error="invalid_token"/)
})

t.test('malformed refresh tokens are 401, never 500', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const [h, p, s] = reg.refreshToken.split('.')
  const tampered = Buffer.from(JSON.stringify({ ...payloadOf(reg.refreshToken), sub: 'someone-else' })).toString('base64url')
  const cases = [
    { name: 'garbage', token: 'garbage' },
    { name: 'three dots of nothing', token: '..' },
    { name: 'tampered payload', token: `${h}.${tampered}.${s}` },
    { name: 'no signature', token: `${h}.${p}.` },
    { name: 'alg none', token: `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'rt+jwt' })).toString('base64url')}.${p}.` }
  ]
  for (const c of cases) {
    const res = await refresh(ctx.app, c.token)
    await t.test(c.name, async (t) => assertProblem(t, res, 401, 'ERR_REFRESH_TOKEN_INVALID'))
  }
  assertProblem(t, await refresh(ctx.app, 'x'.repeat(5000)), 400, 'ERR_VALIDATION')
})

t.test('logout-all revokes refresh tokens now; access tokens live out their TTL (stateless trade-off)', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const other = (await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } }))
    .json<AuthResultBody>()

  const out = await ctx.app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bearer(reg.accessToken) })
  t.equal(out.statusCode, 204)
  t.equal(out.body, '')
  assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  assertProblem(t, await refresh(ctx.app, other.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')

  t.equal((await whoami(ctx.app, reg.accessToken)).statusCode, 200, 'the access token still verifies: no storage read')
  ctx.clock.advance((900 + 30) * 1000)
  t.equal((await whoami(ctx.app, reg.accessToken)).statusCode, 200, 'at exp + tolerance it is still accepted')
  ctx.clock.advance(1000)
  const expired = await whoami(ctx.app, reg.accessToken)
  assertProblem(t, expired, 401, 'ERR_TOKEN_EXPIRED')
  t.match(expired.headers['www-authenticate'], /^Bearer realm="tessera", error="invalid_token"/)

  const login = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  t.equal((await refresh(ctx.app, login.json<AuthResultBody>().refreshToken)).statusCode, 200, 'a new login works with the new version')
})

t.test('a password change revokes the other sessions\' refresh tokens', async (t) => {
  const ctx = await build(t)
  const a = await register(ctx.app)
  const b = (await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD } }))
    .json<AuthResultBody>()
  const change = await ctx.app.inject({
    method: 'PUT', url: '/v1/me/password', headers: bearer(a.accessToken),
    payload: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' }
  })
  t.equal(change.statusCode, 200, change.body)
  assertProblem(t, await refresh(ctx.app, b.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  assertProblem(t, await refresh(ctx.app, a.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.equal((await refresh(ctx.app, change.json<AuthResultBody>().refreshToken)).statusCode, 200, 'the changer keeps a session')
})

t.test('an account disabled by an admin cannot refresh', async (t) => {
  const ctx = await build(t)
  const admin = await registerAdmin(ctx)
  const user = await register(ctx.app, 'bob@example.com')
  const patch = await ctx.app.inject({ method: 'PATCH', url: `/v1/users/${user.user.id}`, headers: bearer(admin.accessToken), payload: { disabled: true } })
  t.equal(patch.statusCode, 200, patch.body)
  assertProblem(t, await refresh(ctx.app, user.refreshToken), 401, 'ERR_ACCOUNT_DISABLED')
})

t.test('a deleted account cannot refresh', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const del = await ctx.app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(reg.accessToken), payload: { password: PASSWORD } })
  t.equal(del.statusCode, 204)
  assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_INVALID')

  // Re-registering the address makes a new account; the old token names the old id and stays dead.
  await register(ctx.app)
  assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_INVALID')
})
