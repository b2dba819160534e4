// Sessions through the API in the default (stateless) mode: one per sign-in, the devices list, signing devices out, what
// account changes end, the per-user bound and the purge of old rows.
import { createSigner } from 'fast-jwt'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { assertProblem, bearer, build, PASSWORD, register, registerAdmin, type AuthResultBody } from '../../support/app'
import { NEW_PASSWORD } from '../../support/passwords'

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'

interface SessionItem { id: string, deviceName: string | null, createdAt: string, lastUsedAt: string, expiresAt: string, ip: string | null, current: boolean }

const login = async (app: FastifyInstance, options: { deviceName?: string, userAgent?: string, ip?: string, email?: string } = {}): Promise<AuthResultBody> => {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: options.email ?? 'alice@example.com', password: PASSWORD, ...(options.deviceName !== undefined ? { deviceName: options.deviceName } : {}) },
    headers: options.userAgent !== undefined ? { 'user-agent': options.userAgent } : {},
    ...(options.ip !== undefined ? { remoteAddress: options.ip } : {})
  })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json<AuthResultBody>()
}
const refresh = (app: FastifyInstance, refreshToken: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
const listSessions = async (app: FastifyInstance, accessToken: string): Promise<SessionItem[]> => {
  const res = await app.inject({ url: '/v1/me/sessions', headers: bearer(accessToken) })
  if (res.statusCode !== 200) throw new Error(`list failed: ${res.statusCode} ${res.body}`)
  return res.json<{ items: SessionItem[] }>().items
}
const post = (app: FastifyInstance, url: string, accessToken: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url, headers: bearer(accessToken) })

t.test('two devices: both listed (most recent first, the caller marked); one signs the other out, which cannot refresh', async (t) => {
  const ctx = await build(t)
  await register(ctx.app)
  ctx.clock.advance(60_000)
  const laptop = await login(ctx.app, { userAgent: FIREFOX, ip: '203.0.113.7' })
  ctx.clock.advance(60_000)
  const phone = await login(ctx.app, { deviceName: 'Alice\'s phone', userAgent: IPHONE, ip: '::ffff:198.51.100.2' })

  const seen = await listSessions(ctx.app, laptop.accessToken)
  const registration = seen[2]
  t.strictSame(seen.map((s) => s.id), [phone.sessionId, laptop.sessionId, registration.id])
  t.strictSame(seen.map((s) => s.current), [false, true, false])
  t.match(seen[0], { deviceName: 'Alice\'s phone', ip: '198.51.100.2', createdAt: new Date(ctx.clock.now()).toISOString() })
  t.match(seen[1], { deviceName: 'Firefox on Linux', ip: '203.0.113.7' })
  t.equal(registration.deviceName, 'lightMyRequest', 'a User-Agent no pattern knows is shown as sent')
  t.equal(seen[1].expiresAt, new Date(ctx.clock.now() - 60_000 + ctx.config.jwt.sessionMaxAge * 1000).toISOString())
  const res = await ctx.app.inject({ url: '/v1/me/sessions', headers: bearer(laptop.accessToken) })
  t.equal(res.headers['cache-control'], 'no-store')

  // A refresh moves the session to the top, with its new time and address.
  ctx.clock.advance(60_000)
  const rotated = await ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: laptop.refreshToken }, remoteAddress: '203.0.113.8' })
  t.equal(rotated.statusCode, 200)
  const top = (await listSessions(ctx.app, phone.accessToken))[0]
  t.match(top, { id: laptop.sessionId, lastUsedAt: new Date(ctx.clock.now()).toISOString(), ip: '203.0.113.8', current: false })

  const out = await ctx.app.inject({ method: 'DELETE', url: `/v1/me/sessions/${laptop.sessionId}`, headers: bearer(phone.accessToken) })
  t.equal(out.statusCode, 204, out.body)
  assertProblem(t, await refresh(ctx.app, rotated.json<AuthResultBody>().refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.strictSame((await listSessions(ctx.app, phone.accessToken)).map((s) => s.id), [phone.sessionId, registration.id])
  t.equal((await refresh(ctx.app, phone.refreshToken)).statusCode, 200, 'the phone carries on')
})

t.test('DELETE /v1/me/sessions/{id}: 404 for an unknown id, another user\'s session, or one ended already; nothing changes', async (t) => {
  const ctx = await build(t)
  const alice = await register(ctx.app)
  const bob = await register(ctx.app, 'bob@example.com')
  const del = (id: string): Promise<LightMyRequestResponse> =>
    ctx.app.inject({ method: 'DELETE', url: `/v1/me/sessions/${id}`, headers: bearer(alice.accessToken) })
  assertProblem(t, await del('AAAAAAAAAAAAAAAA'), 404, 'ERR_SESSION_NOT_FOUND')
  assertProblem(t, await del(bob.sessionId), 404, 'ERR_SESSION_NOT_FOUND')
  t.equal((await refresh(ctx.app, bob.refreshToken)).statusCode, 200, 'bob\'s session is untouched')
  const other = await login(ctx.app)
  t.equal((await del(other.sessionId)).statusCode, 204)
  assertProblem(t, await del(other.sessionId), 404, 'ERR_SESSION_NOT_FOUND')
  assertProblem(t, await del('x'.repeat(65)), 400, 'ERR_VALIDATION')
})

t.test('logout-others ends every session but the caller\'s; logout then ends the caller\'s', async (t) => {
  const ctx = await build(t)
  const a = await register(ctx.app)
  const b = await login(ctx.app)
  const c = await login(ctx.app)
  t.equal((await post(ctx.app, '/v1/auth/logout-others', b.accessToken)).statusCode, 204)
  assertProblem(t, await refresh(ctx.app, a.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  assertProblem(t, await refresh(ctx.app, c.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.strictSame((await listSessions(ctx.app, b.accessToken)).map((s) => s.id), [b.sessionId])
  t.match(await ctx.store.findSession(a.sessionId), { endReason: 'logout_others' })

  t.equal((await post(ctx.app, '/v1/auth/logout', b.accessToken)).statusCode, 204)
  assertProblem(t, await refresh(ctx.app, b.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.strictSame(await listSessions(ctx.app, b.accessToken), [], 'stateless: the access token still reads, the list is empty')
})

t.test('logout-all ends every session row, and a new login starts a listed one', async (t) => {
  const ctx = await build(t)
  const a = await register(ctx.app)
  await login(ctx.app)
  t.equal((await post(ctx.app, '/v1/auth/logout-all', a.accessToken)).statusCode, 204)
  t.strictSame(await listSessions(ctx.app, a.accessToken), [])
  const fresh = await login(ctx.app)
  t.strictSame((await listSessions(ctx.app, fresh.accessToken)).map((s) => s.id), [fresh.sessionId])
})

t.test('a password change ends every other session; the caller\'s goes on with fresh tokens', async (t) => {
  const ctx = await build(t)
  const a = await register(ctx.app)
  const b = await login(ctx.app)
  const change = await ctx.app.inject({
    method: 'PUT', url: '/v1/me/password', headers: bearer(a.accessToken), payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }
  })
  t.equal(change.statusCode, 200, change.body)
  const fresh = change.json<AuthResultBody>()
  t.equal(fresh.sessionId, a.sessionId, 'the same session')
  t.strictSame((await listSessions(ctx.app, fresh.accessToken)).map((s) => s.id), [a.sessionId])
  t.match(await ctx.store.findSession(b.sessionId), { endReason: 'password_changed' })
  assertProblem(t, await refresh(ctx.app, a.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.equal((await refresh(ctx.app, fresh.refreshToken)).statusCode, 200)
})

t.test('disabling a user ends every session; an admin lists a user\'s sessions and ends them all', async (t) => {
  const ctx = await build(t)
  const admin = await registerAdmin(ctx)
  const bob = await register(ctx.app, 'bob@example.com')
  ctx.clock.advance(1000)
  const bobPhone = await login(ctx.app, { email: 'bob@example.com', deviceName: 'phone' })
  const listed = await ctx.app.inject({ url: `/v1/users/${bob.user.id}/sessions`, headers: bearer(admin.accessToken) })
  t.equal(listed.statusCode, 200, listed.body)
  t.strictSame(listed.json<{ items: SessionItem[] }>().items.map((s) => [s.id, s.current]), [[bobPhone.sessionId, false], [bob.sessionId, false]])
  t.equal(listed.headers['cache-control'], 'no-store')

  const ended = await ctx.app.inject({ method: 'DELETE', url: `/v1/users/${bob.user.id}/sessions`, headers: bearer(admin.accessToken) })
  t.equal(ended.statusCode, 204, ended.body)
  assertProblem(t, await refresh(ctx.app, bobPhone.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.strictSame((await ctx.app.inject({ url: `/v1/users/${bob.user.id}/sessions`, headers: bearer(admin.accessToken) })).json(), { items: [] })
  t.equal((await login(ctx.app, { email: 'bob@example.com' })).user.disabled, false, 'the account itself is untouched')

  const again = await login(ctx.app, { email: 'bob@example.com' })
  const patch = await ctx.app.inject({ method: 'PATCH', url: `/v1/users/${bob.user.id}`, headers: bearer(admin.accessToken), payload: { disabled: true } })
  t.equal(patch.statusCode, 200)
  t.match(await ctx.store.findSession(again.sessionId), { endReason: 'disabled' })

  for (const method of ['GET', 'DELETE'] as const) {
    assertProblem(t, await ctx.app.inject({ method, url: '/v1/users/00000000000000000000000000/sessions', headers: bearer(admin.accessToken) }), 404, 'ERR_USER_NOT_FOUND')
    assertProblem(t, await ctx.app.inject({ method, url: `/v1/users/${bob.user.id}/sessions`, headers: bearer(again.accessToken) }), 403, 'ERR_FORBIDDEN')
  }
})

t.test('deviceName: optional, bounded, no control characters; a User-Agent label is cut to 100 characters', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  for (const deviceName of ['', 'a'.repeat(101), 'phone\nAdmin', 'evil\u202Eenohp']) {
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password: PASSWORD, deviceName } })
    assertProblem(t, res, 400, 'ERR_VALIDATION')
  }
  const named = await ctx.app.inject({
    method: 'POST', url: '/v1/auth/register', payload: { email: 'bob@example.com', password: PASSWORD, deviceName: 'Bob\'s 📱' }
  })
  t.equal(named.statusCode, 201, named.body)
  t.equal((await listSessions(ctx.app, named.json<AuthResultBody>().accessToken))[0].deviceName, 'Bob\'s 📱')

  const odd = await login(ctx.app, { userAgent: `MyApp/1.0 ${'x'.repeat(200)}` })
  const label = (await listSessions(ctx.app, reg.accessToken)).find((s) => s.id === odd.sessionId)?.deviceName
  t.equal(label, `MyApp/1.0 ${'x'.repeat(90)}`)
})

t.test('SESSIONS_PER_USER_MAX: a sign-in past it ends the least recently used session', async (t) => {
  const ctx = await build(t, { env: { SESSIONS_PER_USER_MAX: '2' } })
  const first = await register(ctx.app)
  ctx.clock.advance(1000)
  const second = await login(ctx.app)
  ctx.clock.advance(1000)
  t.equal((await refresh(ctx.app, first.refreshToken)).statusCode, 200, 'the first is now the most recently used')
  ctx.clock.advance(1000)
  const third = await login(ctx.app)
  t.strictSame((await listSessions(ctx.app, third.accessToken)).map((s) => s.id), [third.sessionId, first.sessionId])
  t.match(await ctx.store.findSession(second.sessionId), { endReason: 'evicted' })
  assertProblem(t, await refresh(ctx.app, second.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
})

t.test('ended and expired rows are purged at a sign-in or refresh, at most hourly, once no token of theirs can be valid', async (t) => {
  const ctx = await build(t, { env: { REFRESH_TOKEN_TTL: '1h', CLOCK_TOLERANCE: '0' } })
  // Every purge the app makes, with how many rows it deleted (the service calls the store's method at call time).
  const purges: number[] = []
  const purge = ctx.store.purgeSessions.bind(ctx.store)
  ctx.store.purgeSessions = async (before, batchSize) => { const n = await purge(before, batchSize); purges.push(n); return n }
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

  const one = await register(ctx.app)
  await settle()
  t.strictSame(purges, [0], 'the first sign-in purges (nothing to purge yet)')
  t.equal((await post(ctx.app, '/v1/auth/logout', one.accessToken)).statusCode, 204)
  ctx.clock.advance(3600 * 1000)
  const two = await login(ctx.app)
  await settle()
  t.strictSame(purges, [0, 0], 'an hour later: the ended row stays, as a refresh token issued just before its logout may live until now')
  ctx.clock.advance(1000)
  t.equal((await refresh(ctx.app, two.refreshToken)).statusCode, 200)
  await settle()
  t.strictSame(purges, [0, 0], 'within the hour, no purge again')
  ctx.clock.advance(3600 * 1000)
  await login(ctx.app)
  await settle()
  t.strictSame(purges, [0, 0, 1], 'past a token lifetime after the logout, the row goes')
  t.equal(await ctx.store.findSession(one.sessionId), null)
})

t.test('a refresh token from before sessions were recorded starts a session; a logged-out one stays refused', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const now = Math.floor(ctx.clock.now() / 1000)
  // Signed as the previous release did: no sid (stateless) or a sid without ctr (hybrid), never a row.
  const sign = createSigner({ key: ctx.key.privateKey, algorithm: 'EdDSA', kid: ctx.key.kid, header: { alg: 'EdDSA', typ: 'rt+jwt' } })
  const legacy = (extra: Record<string, unknown> = {}): string =>
    sign({ iss: 'tessera', aud: 'tessera', sub: reg.user.id, ver: 0, ...extra, auth_time: now, iat: now, exp: now + 3600, jti: 'legacy-jti-000001' }) as string

  const adopted = await refresh(ctx.app, legacy())
  t.equal(adopted.statusCode, 200, adopted.body)
  const tokens = adopted.json<AuthResultBody>()
  t.not(tokens.sessionId, reg.sessionId)
  t.match(await ctx.store.findSession(tokens.sessionId), { authTime: now, counter: 0, endedAt: null })
  t.equal((await refresh(ctx.app, tokens.refreshToken)).statusCode, 200, 'the new session rotates as usual')

  // A hybrid sid logged out before the upgrade was migrated as an ended row.
  await ctx.store.recordEndedSession({ id: 'AAAAAAAAAAAAAAAA', userId: reg.user.id, expiresAt: new Date(ctx.clock.now() + 3_600_000), reason: 'logout' })
  assertProblem(t, await refresh(ctx.app, legacy({ sid: 'AAAAAAAAAAAAAAAA' })), 401, 'ERR_REFRESH_TOKEN_REVOKED')
})
