// Audit issue 12, finding 12: answers carrying an account or a list of them are never stored by a cache.
import t from 'tap'
import { bearer, build, PASSWORD, register, registerAdmin } from '../support/app'

t.test('finding 12: /v1/me and the admin user routes send Cache-Control: no-store', async (t) => {
  const ctx = await build(t)
  const admin = await registerAdmin(ctx)
  const bob = await register(ctx.app, 'bob@example.com')
  const carol = await register(ctx.app, 'carol@example.com')
  const as = (token: string) => ({ headers: bearer(token) })

  const cases = [
    { name: 'GET /v1/me', status: 200, req: { url: '/v1/me', ...as(bob.accessToken) } },
    { name: 'PATCH /v1/me', status: 200, req: { method: 'PATCH' as const, url: '/v1/me', payload: { name: 'Bob' }, ...as(bob.accessToken) } },
    {
      name: 'PUT /v1/me/password (tokens)',
      status: 200,
      req: { method: 'PUT' as const, url: '/v1/me/password', payload: { currentPassword: PASSWORD, newPassword: 'another long passphrase' }, ...as(carol.accessToken) }
    },
    { name: 'GET /v1/users', status: 200, req: { url: '/v1/users', ...as(admin.accessToken) } },
    { name: 'GET /v1/users/:id', status: 200, req: { url: `/v1/users/${bob.user.id}`, ...as(admin.accessToken) } },
    { name: 'PATCH /v1/users/:id', status: 200, req: { method: 'PATCH' as const, url: `/v1/users/${bob.user.id}`, payload: { disabled: true }, ...as(admin.accessToken) } },
    { name: 'GET /v1/users/:id refused to a non-admin', status: 403, req: { url: `/v1/users/${admin.user.id}`, ...as(bob.accessToken) } },
    { name: 'DELETE /v1/users/:id', status: 204, req: { method: 'DELETE' as const, url: `/v1/users/${bob.user.id}`, ...as(admin.accessToken) } }
  ]
  for (const c of cases) {
    const res = await ctx.app.inject(c.req)
    await t.test(c.name, async (t) => {
      t.equal(res.statusCode, c.status, res.body)
      t.equal(res.headers['cache-control'], 'no-store')
    })
  }
})
