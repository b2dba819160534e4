// buildApp (src/app.ts) in one breath: the plugins and routes it wires answer a registration, then a whoami.
import t from 'tap'
import { bearer, build, register } from './support/app'

t.test('register then whoami', async (t) => {
  const ctx = await build(t)
  const reg = await register(ctx.app)
  const res = await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(reg.accessToken) })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().sub, reg.user.id)
  t.ok(reg.accessToken.length < 400, `access token ${reg.accessToken.length} bytes`)
})
