// /v1/me: read and edit the profile, change the password, delete the account; every route needs a Bearer token.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { assertProblem, bearer, build, PASSWORD, register, type AuthResultBody } from '../../support/app'
import { NEW_PASSWORD } from '../../support/passwords'


const login = (app: FastifyInstance, password: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'alice@example.com', password } })
const refresh = (app: FastifyInstance, refreshToken: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })

t.test('GET /v1/me returns the caller', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const res = await ctx.app.inject({ url: '/v1/me', headers: bearer(reg.accessToken) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), reg.user)
})

t.test('PATCH /v1/me sets and clears the name', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const patch = (payload: unknown) =>
    ctx.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(reg.accessToken), payload: payload as Record<string, unknown> })

  ctx.clock.advance(60_000)
  const set = await patch({ name: 'Alice Liddell' })
  t.equal(set.statusCode, 200, set.body)
  t.match(set.json(), { id: reg.user.id, name: 'Alice Liddell', createdAt: reg.user.createdAt })
  t.equal(set.json().updatedAt, new Date(ctx.clock.now()).toISOString(), 'updatedAt moves')
  t.equal((await ctx.app.inject({ url: '/v1/me', headers: bearer(reg.accessToken) })).json().name, 'Alice Liddell', 'persisted')

  const cleared = await patch({ name: null })
  t.equal(cleared.statusCode, 200)
  t.equal(cleared.json().name, null)

  const bad: Array<{ name: string, payload: unknown }> = [
    { name: 'unknown property', payload: { name: 'A', role: 'admin' } },
    { name: 'only an unknown property', payload: { email: 'mallory@example.com' } },
    { name: 'empty body', payload: {} },
    { name: 'empty name', payload: { name: '' } },
    { name: 'name too long', payload: { name: 'n'.repeat(101) } },
    { name: 'name as a number', payload: { name: 42 } }
  ]
  for (const c of bad) {
    const res = await patch(c.payload)
    await t.test(c.name, async (t) => assertProblem(t, res, 400, 'ERR_VALIDATION'))
  }
  const me = await ctx.app.inject({ url: '/v1/me', headers: bearer(reg.accessToken) })
  t.match(me.json(), { name: null, role: 'user', email: 'alice@example.com' }, 'nothing changed by the refused patches')
})

t.test('PUT /v1/me/password', async (t) => {
  const ctx = await build(t)
  const change = (accessToken: string, payload: unknown) =>
    ctx.app.inject({ method: 'PUT', url: '/v1/me/password', headers: bearer(accessToken), payload: payload as Record<string, unknown> })

  await t.test('wrong current password: 403 and nothing changes', async (t) => {
    const reg = await register(ctx.app, 'wrong@example.com')
    const res = await change(reg.accessToken, { currentPassword: 'not my password at all', newPassword: NEW_PASSWORD })
    assertProblem(t, res, 403, 'ERR_WRONG_PASSWORD')
    t.equal((await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'wrong@example.com', password: PASSWORD } })).statusCode, 200)
    t.equal((await refresh(ctx.app, reg.refreshToken)).statusCode, 200, 'no session revoked')
  })

  await t.test('weak new password: 400 and the old one still works', async (t) => {
    const reg = await register(ctx.app, 'weak@example.com')
    const cases = [
      { newPassword: 'short', code: 'ERR_PASSWORD_TOO_SHORT' },
      { newPassword: 'x'.repeat(129), code: 'ERR_PASSWORD_TOO_LONG' },
      { newPassword: 'x'.repeat(300), code: 'ERR_VALIDATION' }
    ]
    for (const c of cases) assertProblem(t, await change(reg.accessToken, { currentPassword: PASSWORD, newPassword: c.newPassword }), 400, c.code)
    t.equal((await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'weak@example.com', password: PASSWORD } })).statusCode, 200)
    t.equal((await refresh(ctx.app, reg.refreshToken)).statusCode, 200, 'no session revoked')
  })

  await t.test('finding 2: a refused new password says nothing about the current one', async (t) => {
    const reg = await register(ctx.app, 'oracle@example.com')
    for (const currentPassword of [PASSWORD, 'a wrong guess at the current one']) {
      assertProblem(t, await change(reg.accessToken, { currentPassword, newPassword: 'short' }), 400, 'ERR_PASSWORD_TOO_SHORT')
    }
  })

  await t.test('bad bodies', async (t) => {
    const reg = await register(ctx.app, 'body@example.com')
    for (const payload of [{}, { currentPassword: PASSWORD }, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, extra: 1 }, { currentPassword: [PASSWORD], newPassword: NEW_PASSWORD }]) {
      assertProblem(t, await change(reg.accessToken, payload), 400, 'ERR_VALIDATION')
    }
  })

  await t.test('success: fresh tokens, new password only, old sessions revoked', async (t) => {
    const reg = await register(ctx.app)
    ctx.clock.advance(60_000)
    const res = await change(reg.accessToken, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.headers['cache-control'], 'no-store')
    const body = res.json<AuthResultBody>()
    t.match(body, { tokenType: 'Bearer', expiresIn: 900, refreshExpiresIn: 30 * 24 * 3600, user: { id: reg.user.id } })
    t.same(Object.keys(body.user).sort(), ['createdAt', 'disabled', 'email', 'emailVerified', 'id', 'mfaEnabled', 'name', 'role', 'updatedAt'])

    t.equal((await ctx.app.inject({ url: '/v1/me', headers: bearer(body.accessToken) })).statusCode, 200, 'new access token works')
    assertProblem(t, await login(ctx.app, PASSWORD), 401, 'ERR_INVALID_CREDENTIALS')
    t.equal((await login(ctx.app, NEW_PASSWORD)).statusCode, 200, 'new password works')
    assertProblem(t, await refresh(ctx.app, reg.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
    t.equal((await refresh(ctx.app, body.refreshToken)).statusCode, 200, 'new refresh token works')
  })
})

t.test('DELETE /v1/me', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const del = (payload: unknown) =>
    ctx.app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(reg.accessToken), payload: payload as Record<string, unknown> })

  assertProblem(t, await del({ password: 'not my password at all' }), 403, 'ERR_WRONG_PASSWORD')
  assertProblem(t, await del({}), 400, 'ERR_VALIDATION')
  assertProblem(t, await ctx.app.inject({ method: 'DELETE', url: '/v1/me', headers: bearer(reg.accessToken) }), 400, 'ERR_VALIDATION')
  t.ok(await ctx.store.findById(reg.user.id), 'still there')

  const ok = await del({ password: PASSWORD })
  t.equal(ok.statusCode, 204)
  t.equal(ok.body, '')
  t.equal(await ctx.store.findById(reg.user.id), null, 'gone from the store')
  assertProblem(t, await login(ctx.app, PASSWORD), 401, 'ERR_INVALID_CREDENTIALS')

  // The access token still verifies by signature, but the account it names is gone.
  const requests = [
    { method: 'GET' as const, url: '/v1/me' },
    { method: 'PATCH' as const, url: '/v1/me', payload: { name: 'Ghost' } },
    { method: 'PUT' as const, url: '/v1/me/password', payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } },
    { method: 'DELETE' as const, url: '/v1/me', payload: { password: PASSWORD } },
    { method: 'POST' as const, url: '/v1/auth/logout-all' }
  ]
  for (const r of requests) {
    const res = await ctx.app.inject({ ...r, headers: bearer(reg.accessToken) })
    await t.test(`${r.method} ${r.url} after deletion`, async (t) => {
      assertProblem(t, res, 401, 'ERR_TOKEN_INVALID')
      t.match(res.headers['www-authenticate'], /^Bearer realm="tessera", error="invalid_token"/)
    })
  }
  t.equal(await ctx.store.findById(reg.user.id), null, 'nothing recreated')
  t.equal((await register(ctx.app)).user.email, 'alice@example.com', 'the address can be registered again')
})

t.test('every protected route without a token: 401 with a bare Bearer challenge', async (t) => {
  const ctx = await build(t)
  const routes = [
    { method: 'GET' as const, url: '/v1/me' },
    { method: 'PATCH' as const, url: '/v1/me', payload: { name: 'x' } },
    { method: 'PUT' as const, url: '/v1/me/password', payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } },
    { method: 'DELETE' as const, url: '/v1/me', payload: { password: PASSWORD } },
    { method: 'GET' as const, url: '/v1/auth/whoami' },
    { method: 'POST' as const, url: '/v1/auth/logout-all' },
    { method: 'GET' as const, url: '/v1/users' },
    { method: 'GET' as const, url: '/v1/users/0123456789abcdefghjkmnpqrs' },
    { method: 'PATCH' as const, url: '/v1/users/0123456789abcdefghjkmnpqrs', payload: { role: 'admin' } },
    { method: 'DELETE' as const, url: '/v1/users/0123456789abcdefghjkmnpqrs' }
  ]
  for (const r of routes) {
    const res = await ctx.app.inject(r)
    await t.test(`${r.method} ${r.url}`, async (t) => {
      assertProblem(t, res, 401, 'ERR_AUTH_REQUIRED')
      t.equal(res.headers['www-authenticate'], 'Bearer realm="tessera"')
    })
  }
})

t.test('bad Authorization headers', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const cases = [
    { name: 'Basic scheme counts as no Bearer credentials', headers: { authorization: 'Basic YWxpY2U6cHc=' }, status: 401, code: 'ERR_AUTH_REQUIRED', error: null },
    { name: 'Bearer without a token', headers: { authorization: 'Bearer' }, status: 400, code: 'ERR_AUTH_MALFORMED', error: 'invalid_request' },
    { name: 'token with spaces', headers: { authorization: 'Bearer a b' }, status: 400, code: 'ERR_AUTH_MALFORMED', error: 'invalid_request' },
    { name: 'garbage token', headers: { authorization: 'Bearer garbage' }, status: 401, code: 'ERR_TOKEN_INVALID', error: 'invalid_token' },
    { name: 'tampered signature', headers: bearer(reg.accessToken.slice(0, -4) + 'AAAA'), status: 401, code: 'ERR_TOKEN_INVALID', error: 'invalid_token' }
  ]
  for (const c of cases) {
    const res = await ctx.app.inject({ url: '/v1/me', headers: c.headers })
    await t.test(c.name, async (t) => {
      assertProblem(t, res, c.status, c.code)
      if (c.error === null) t.equal(res.headers['www-authenticate'], 'Bearer realm="tessera"')
      else t.match(res.headers['www-authenticate'], `error="${c.error}"`)
    })
  }
  const query = await ctx.app.inject({ url: `/v1/me?access_token=${reg.accessToken}` })
  assertProblem(t, query, 400, 'ERR_AUTH_MALFORMED')
})

t.test('a disabled account cannot mint fresh tokens by changing its password', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  await ctx.store.update(reg.user.id, { disabled: true, bumpTokenVersion: true })
  // The access token itself stays valid until it expires (the stateless trade-off), but it must not
  // be exchangeable for new tokens, or a disabled user could renew access forever.
  const res = await ctx.app.inject({
    method: 'PUT', url: '/v1/me/password', headers: bearer(reg.accessToken),
    payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }
  })
  assertProblem(t, res, 403, 'ERR_ACCOUNT_DISABLED')
  t.notMatch(res.body, /accessToken|refreshToken/)
  assertProblem(t, await login(ctx.app, PASSWORD), 403, 'ERR_ACCOUNT_DISABLED')
  assertProblem(t, await login(ctx.app, NEW_PASSWORD), 401, 'ERR_INVALID_CREDENTIALS')
})
