// /v1/users: admin-only listing with keyset pagination, lookup, role and disable changes, deletion.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { assertProblem, bearer, build, PASSWORD, register, registerAdmin, type AuthResultBody, type TestContext } from '../../support/app'

type User = AuthResultBody['user']
interface Page { items: User[], nextCursor: string | null }

const UNKNOWN_ID = '0123456789abcdefghjkmnpqrs'

/** An admin plus `n` users, the clock moving a second between registrations (the admin token stays valid). */
async function population (ctx: TestContext, n: number): Promise<{ admin: AuthResultBody, users: User[] }> {
  const admin = await registerAdmin(ctx)
  const users: User[] = []
  for (let i = 0; i < n; i++) {
    ctx.clock.advance(1000)
    users.push((await register(ctx.app, `user${i}@example.com`)).user)
  }
  return { admin, users }
}

async function allPages (app: FastifyInstance, token: string, limit: number): Promise<Page[]> {
  const pages: Page[] = []
  let cursor: string | null = null
  do {
    const url: string = `/v1/users?limit=${limit}` + (cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`)
    const res = await app.inject({ url, headers: bearer(token) })
    if (res.statusCode !== 200) throw new Error(`list failed: ${res.statusCode} ${res.body}`)
    const page: Page = res.json<Page>()
    pages.push(page)
    cursor = page.nextCursor
    if (pages.length > 20) throw new Error('pagination does not end')
  } while (cursor !== null)
  return pages
}

t.test('a non-admin gets 403 insufficient_scope on every route', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const routes = [
    { method: 'GET' as const, url: '/v1/users' },
    { method: 'GET' as const, url: `/v1/users/${reg.user.id}` },
    { method: 'PATCH' as const, url: `/v1/users/${reg.user.id}`, payload: { role: 'admin' } },
    { method: 'DELETE' as const, url: `/v1/users/${reg.user.id}` },
    // Authorisation comes before validation: a non-admin learns nothing about what the admin routes accept.
    { method: 'GET' as const, url: '/v1/users?limit=0&cursor=garbage' },
    { method: 'GET' as const, url: `/v1/users/${'x'.repeat(65)}` },
    { method: 'PATCH' as const, url: `/v1/users/${reg.user.id}`, payload: { role: 'root', extra: true } }
  ]
  for (const r of routes) {
    const res = await ctx.app.inject({ ...r, headers: bearer(reg.accessToken) })
    await t.test(`${r.method} ${r.url}`, async (t) => {
      assertProblem(t, res, 403, 'ERR_FORBIDDEN')
      t.match(res.headers['www-authenticate'], /^Bearer realm="tessera", error="insufficient_scope"/)
    })
  }
  t.match(await ctx.store.findById(reg.user.id), { role: 'user' }, 'the self-promotion did not happen')
})

t.test('keyset pagination: admin + 7 users, limit 3 → 3/3/2 in creation order', async (t) => {
  const ctx = await build(t)
  const { admin, users } = await population(ctx, 7)
  const pages = await allPages(ctx.app, admin.accessToken, 3)
  t.same(pages.map((p) => p.items.length), [3, 3, 2])
  t.type(pages[0].nextCursor, 'string')
  t.type(pages[1].nextCursor, 'string')
  t.equal(pages[2].nextCursor, null, 'null on the last page')

  const ids = pages.flatMap((p) => p.items.map((u) => u.id))
  t.same(ids, [admin.user.id, ...users.map((u) => u.id)], 'every user once, in creation order')
  t.equal(new Set(ids).size, 8, 'no duplicates')
  const created = pages.flatMap((p) => p.items.map((u) => u.createdAt))
  t.same(created, [...created].sort(), 'createdAt ascending')
  for (const u of pages.flatMap((p) => p.items)) {
    t.same(Object.keys(u).sort(), ['createdAt', 'disabled', 'email', 'emailVerified', 'id', 'mfaEnabled', 'name', 'role', 'updatedAt'], 'no hash or token version')
  }
})

t.test('a last page that is exactly full has a null cursor', async (t) => {
  const ctx = await build(t)
  const { admin } = await population(ctx, 5)
  const pages = await allPages(ctx.app, admin.accessToken, 3)
  t.same(pages.map((p) => p.items.length), [3, 3])
  t.equal(pages[1].nextCursor, null)
})

t.test('limit is optional (default 20) and bounded', async (t) => {
  const ctx = await build(t)
  const { admin } = await population(ctx, 21)
  const first = await ctx.app.inject({ url: '/v1/users', headers: bearer(admin.accessToken) })
  t.equal(first.statusCode, 200, first.body)
  const page = first.json<Page>()
  t.equal(page.items.length, 20)
  t.type(page.nextCursor, 'string')
  const rest = await ctx.app.inject({ url: `/v1/users?cursor=${page.nextCursor!}`, headers: bearer(admin.accessToken) })
  t.same(rest.json<Page>().items.length, 2)
  t.equal(rest.json<Page>().nextCursor, null)

  t.equal((await ctx.app.inject({ url: '/v1/users?limit=100', headers: bearer(admin.accessToken) })).json<Page>().items.length, 22)
  for (const limit of ['0', '101', 'abc', '-1', '']) {
    const res = await ctx.app.inject({ url: `/v1/users?limit=${limit}`, headers: bearer(admin.accessToken) })
    await t.test(`limit=${limit}`, async (t) => assertProblem(t, res, 400, 'ERR_VALIDATION'))
  }
  assertProblem(t, await ctx.app.inject({ url: '/v1/users?limit=3&sort=email', headers: bearer(admin.accessToken) }), 400, 'ERR_VALIDATION')
})

t.test('a cursor the API did not issue is 400', async (t) => {
  const ctx = await build(t)
  const { admin } = await population(ctx, 3)
  const forged = Buffer.from('id:zzz').toString('base64url')
  for (const cursor of ['garbage', 'x'.repeat(201), Buffer.from('user:1').toString('base64url'), forged + '=', '%00']) {
    const res = await ctx.app.inject({ url: `/v1/users?limit=2&cursor=${encodeURIComponent(cursor)}`, headers: bearer(admin.accessToken) })
    await t.test(`cursor ${cursor.slice(0, 20)}`, async (t) => assertProblem(t, res, 400, 'ERR_VALIDATION'))
  }
})

t.test('GET /v1/users/:id', async (t) => {
  const ctx = await build(t)
  const { admin, users } = await population(ctx, 1)
  const found = await ctx.app.inject({ url: `/v1/users/${users[0].id}`, headers: bearer(admin.accessToken) })
  t.equal(found.statusCode, 200)
  t.same(found.json(), users[0])
  assertProblem(t, await ctx.app.inject({ url: `/v1/users/${UNKNOWN_ID}`, headers: bearer(admin.accessToken) }), 404, 'ERR_USER_NOT_FOUND')
  assertProblem(t, await ctx.app.inject({ url: `/v1/users/${'x'.repeat(65)}`, headers: bearer(admin.accessToken) }), 400, 'ERR_VALIDATION')
})

t.test('PATCH role: a new login carries the new role', async (t) => {
  const ctx = await build(t)
  const { admin, users } = await population(ctx, 1)
  ctx.clock.advance(60_000)
  const res = await ctx.app.inject({ method: 'PATCH', url: `/v1/users/${users[0].id}`, headers: bearer(admin.accessToken), payload: { role: 'admin' } })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { id: users[0].id, role: 'admin', disabled: false, updatedAt: new Date(ctx.clock.now()).toISOString() })
  const login = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'user0@example.com', password: PASSWORD } })
  const promoted = login.json<AuthResultBody>()
  t.equal((await ctx.app.inject({ url: '/v1/users', headers: bearer(promoted.accessToken) })).statusCode, 200, 'the new token has the admin role')

  assertProblem(t, await ctx.app.inject({ method: 'PATCH', url: `/v1/users/${UNKNOWN_ID}`, headers: bearer(admin.accessToken), payload: { role: 'user' } }), 404, 'ERR_USER_NOT_FOUND')
})

t.test('PATCH bad bodies are 400', async (t) => {
  const ctx = await build(t)
  const { admin, users } = await population(ctx, 1)
  const cases: Array<{ name: string, payload: unknown }> = [
    { name: 'empty body', payload: {} },
    { name: 'unknown role', payload: { role: 'root' } },
    { name: 'disabled as a string (no coercion)', payload: { disabled: 'true' } },
    { name: 'unknown property', payload: { email: 'x@example.com' } },
    { name: 'password is not an admin field', payload: { role: 'user', passwordHash: 'x' } }
  ]
  for (const c of cases) {
    const res = await ctx.app.inject({ method: 'PATCH', url: `/v1/users/${users[0].id}`, headers: bearer(admin.accessToken), payload: c.payload as Record<string, unknown> })
    await t.test(c.name, async (t) => assertProblem(t, res, 400, 'ERR_VALIDATION'))
  }
  t.match(await ctx.store.findById(users[0].id), { role: 'user', disabled: false, tokenVersion: 0 }, 'unchanged')
})

t.test('PATCH disabled: login 403, refresh 401; re-enabling lets the user log in again', async (t) => {
  const ctx = await build(t)
  const admin = await registerAdmin(ctx)
  const bob = await register(ctx.app, 'bob@example.com')
  const patch = (disabled: boolean) =>
    ctx.app.inject({ method: 'PATCH', url: `/v1/users/${bob.user.id}`, headers: bearer(admin.accessToken), payload: { disabled } })
  const login = () => ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'bob@example.com', password: PASSWORD } })
  const refresh = (refreshToken: string) => ctx.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })

  const off = await patch(true)
  t.equal(off.statusCode, 200, off.body)
  t.equal(off.json().disabled, true)
  assertProblem(t, await login(), 403, 'ERR_ACCOUNT_DISABLED')
  assertProblem(t, await refresh(bob.refreshToken), 401, 'ERR_ACCOUNT_DISABLED')

  const on = await patch(false)
  t.equal(on.json().disabled, false)
  const again = await login()
  t.equal(again.statusCode, 200, 'can log in again')
  assertProblem(t, await refresh(bob.refreshToken), 401, 'ERR_REFRESH_TOKEN_REVOKED')
  t.equal((await refresh(again.json<AuthResultBody>().refreshToken)).statusCode, 200)
})

t.test('DELETE /v1/users/:id: 204, then 404', async (t) => {
  const ctx = await build(t)
  const { admin, users } = await population(ctx, 2)
  const del = () => ctx.app.inject({ method: 'DELETE', url: `/v1/users/${users[0].id}`, headers: bearer(admin.accessToken) })
  const first = await del()
  t.equal(first.statusCode, 204)
  t.equal(first.body, '')
  assertProblem(t, await ctx.app.inject({ url: `/v1/users/${users[0].id}`, headers: bearer(admin.accessToken) }), 404, 'ERR_USER_NOT_FOUND')
  assertProblem(t, await del(), 404, 'ERR_USER_NOT_FOUND')
  const list = await ctx.app.inject({ url: '/v1/users?limit=10', headers: bearer(admin.accessToken) })
  t.same(list.json<Page>().items.map((u) => u.id), [admin.user.id, users[1].id])
  assertProblem(t, await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'user0@example.com', password: PASSWORD } }), 401, 'ERR_INVALID_CREDENTIALS')
})
