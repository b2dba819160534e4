// Audit issue 12, finding 1: admin powers follow the account's current record, not the role claim of an old access
// token; a role change revokes sessions; the last enabled administrator cannot be demoted, disabled or deleted.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { assertProblem, bearer, build, PASSWORD, register, registerAdmin, type AuthResultBody } from '../support/app'

const patch = (app: FastifyInstance, token: string, id: string, payload: { role?: 'user' | 'admin', disabled?: boolean }): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'PATCH', url: `/v1/users/${id}`, headers: bearer(token), payload })
const remove = (app: FastifyInstance, token: string, id: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'DELETE', url: `/v1/users/${id}`, headers: bearer(token) })
const list = (app: FastifyInstance, token: string): Promise<LightMyRequestResponse> =>
  app.inject({ url: '/v1/users', headers: bearer(token) })
const refresh = (app: FastifyInstance, refreshToken: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
const login = (app: FastifyInstance, email: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } })

t.test('finding 1: an admin demoted and disabled by another cannot restore itself nor lock the other out', async (t) => {
  const ctx = await build(t)
  const a = await registerAdmin(ctx, 'a@example.com')
  const b = await registerAdmin(ctx, 'b@example.com')

  t.equal((await patch(ctx.app, a.accessToken, b.user.id, { role: 'user' })).statusCode, 200, 'A demotes B')
  t.equal((await patch(ctx.app, a.accessToken, b.user.id, { disabled: true })).statusCode, 200, 'A disables B')

  // B still holds an access token whose role claim says admin, valid for its whole TTL in stateless mode.
  for (const [name, res] of [
    ['B re-promotes itself', await patch(ctx.app, b.accessToken, b.user.id, { role: 'admin' })],
    ['B re-enables itself', await patch(ctx.app, b.accessToken, b.user.id, { disabled: false })],
    ['B demotes A', await patch(ctx.app, b.accessToken, a.user.id, { role: 'user' })],
    ['B disables A', await patch(ctx.app, b.accessToken, a.user.id, { disabled: true })],
    ['B deletes A', await remove(ctx.app, b.accessToken, a.user.id)],
    ['B lists users', await list(ctx.app, b.accessToken)]
  ] as const) {
    await t.test(name, async (t) => assertProblem(t, res, 403, 'ERR_ACCOUNT_DISABLED'))
  }
  t.match(await ctx.store.findById(b.user.id), { role: 'user', disabled: true }, 'B stays demoted and disabled')
  t.match(await ctx.store.findById(a.user.id), { role: 'admin', disabled: false }, 'A keeps its role')
  t.equal((await list(ctx.app, a.accessToken)).statusCode, 200, 'and A is not locked out')
  t.equal((await login(ctx.app, 'a@example.com')).statusCode, 200)
})

t.test('finding 1: a demoted admin (still enabled) gets 403 insufficient_scope on every admin route, self-demotion included', async (t) => {
  const ctx = await build(t)
  const a = await registerAdmin(ctx, 'a@example.com')
  const b = await registerAdmin(ctx, 'b@example.com')
  t.equal((await patch(ctx.app, a.accessToken, a.user.id, { role: 'user' })).statusCode, 200, 'A steps down while B remains')

  for (const [name, res] of [
    ['list', await list(ctx.app, a.accessToken)],
    ['get', await ctx.app.inject({ url: `/v1/users/${b.user.id}`, headers: bearer(a.accessToken) })],
    ['re-promote itself', await patch(ctx.app, a.accessToken, a.user.id, { role: 'admin' })],
    ['demote B', await patch(ctx.app, a.accessToken, b.user.id, { role: 'user' })],
    ['delete B', await remove(ctx.app, a.accessToken, b.user.id)]
  ] as const) {
    await t.test(name, async (t) => {
      assertProblem(t, res, 403, 'ERR_FORBIDDEN')
      t.match(res.headers['www-authenticate'], /error="insufficient_scope"/)
    })
  }
  t.match(await ctx.store.findById(a.user.id), { role: 'user' })
  t.match(await ctx.store.findById(b.user.id), { role: 'admin', disabled: false })
})

t.test('finding 1: a deleted admin is answered 401 invalid token and cannot delete the admin who deleted it', async (t) => {
  const ctx = await build(t)
  const a = await registerAdmin(ctx, 'a@example.com')
  const b = await registerAdmin(ctx, 'b@example.com')
  t.equal((await remove(ctx.app, a.accessToken, b.user.id)).statusCode, 204, 'A deletes B')

  for (const [name, res] of [
    ['B lists users', await list(ctx.app, b.accessToken)],
    ['B deletes A', await remove(ctx.app, b.accessToken, a.user.id)],
    ['B demotes A', await patch(ctx.app, b.accessToken, a.user.id, { role: 'user' })]
  ] as const) {
    await t.test(name, async (t) => {
      assertProblem(t, res, 401, 'ERR_TOKEN_INVALID')
      t.match(res.headers['www-authenticate'], /error="invalid_token"/)
    })
  }
  t.match(await ctx.store.findById(a.user.id), { role: 'admin', disabled: false }, 'A is untouched')
})

t.test('finding 1: the last enabled admin cannot be demoted, disabled or deleted (409 ERR_LAST_ADMIN), not even by itself', async (t) => {
  const ctx = await build(t)
  const a = await registerAdmin(ctx, 'a@example.com')
  // A disabled admin is no administrator anyone can use: it does not count.
  const c = await registerAdmin(ctx, 'c@example.com')
  await ctx.store.update(c.user.id, { disabled: true })
  const before = await ctx.store.findById(a.user.id)

  for (const [name, res] of [
    ['self-demotion', await patch(ctx.app, a.accessToken, a.user.id, { role: 'user' })],
    ['self-disabling', await patch(ctx.app, a.accessToken, a.user.id, { disabled: true })],
    ['both at once', await patch(ctx.app, a.accessToken, a.user.id, { role: 'user', disabled: true })],
    ['self-deletion', await remove(ctx.app, a.accessToken, a.user.id)]
  ] as const) {
    await t.test(name, async (t) => assertProblem(t, res, 409, 'ERR_LAST_ADMIN'))
  }
  t.strictSame(await ctx.store.findById(a.user.id), before, 'nothing changed, the token version included')

  // With a second enabled admin, the first may go; then the second is the last.
  const b = await registerAdmin(ctx, 'b@example.com')
  t.equal((await patch(ctx.app, a.accessToken, a.user.id, { disabled: true })).statusCode, 200, 'A may step down now')
  assertProblem(t, await patch(ctx.app, b.accessToken, b.user.id, { role: 'user' }), 409, 'ERR_LAST_ADMIN')
  assertProblem(t, await remove(ctx.app, b.accessToken, b.user.id), 409, 'ERR_LAST_ADMIN')
  t.equal((await patch(ctx.app, b.accessToken, b.user.id, { role: 'admin', disabled: false })).statusCode, 200, 'a patch that keeps B an admin applies')
  t.equal((await patch(ctx.app, b.accessToken, c.user.id, { role: 'user' })).statusCode, 200, 'a disabled admin may be demoted')
})

t.test('finding 1: a role change revokes the sessions of the user; the next login carries the new role', async (t) => {
  const ctx = await build(t)
  const admin = await registerAdmin(ctx)
  const bob = await register(ctx.app, 'bob@example.com')

  t.equal((await patch(ctx.app, admin.accessToken, bob.user.id, { role: 'admin' })).statusCode, 200)
  assertProblem(t, await refresh(ctx.app, bob.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  const promoted = (await login(ctx.app, 'bob@example.com')).json<AuthResultBody>()
  t.equal(promoted.user.role, 'admin')

  t.equal((await patch(ctx.app, admin.accessToken, bob.user.id, { role: 'user' })).statusCode, 200)
  assertProblem(t, await refresh(ctx.app, promoted.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  assertProblem(t, await list(ctx.app, promoted.accessToken), 403, 'ERR_FORBIDDEN')
  t.equal((await login(ctx.app, 'bob@example.com')).json<AuthResultBody>().user.role, 'user')

  const version = (await ctx.store.findById(bob.user.id))!.tokenVersion
  t.equal((await patch(ctx.app, admin.accessToken, bob.user.id, { role: 'user' })).statusCode, 200, 'the same role again')
  t.equal((await ctx.store.findById(bob.user.id))!.tokenVersion, version, 'is no change, and revokes nothing')
})

t.test('finding 1: in hybrid mode a demotion refuses the old access token at once', async (t) => {
  const ctx = await build(t, { env: { REVOCATION_MODE: 'hybrid', REVOCATION_CACHE_TTL: '5s' } })
  const a = await registerAdmin(ctx, 'a@example.com')
  const b = await registerAdmin(ctx, 'b@example.com')
  t.equal((await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(b.accessToken) })).statusCode, 200)
  t.equal((await patch(ctx.app, a.accessToken, b.user.id, { role: 'user' })).statusCode, 200)
  assertProblem(t, await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(b.accessToken) }), 401, 'ERR_TOKEN_REVOKED')
  assertProblem(t, await list(ctx.app, b.accessToken), 401, 'ERR_TOKEN_REVOKED')
})
