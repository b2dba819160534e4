// Route schemas compile on first use in the server; here every one of them is compiled, so a broken schema fails the
// suite instead of a user's first request.
import { Type } from '@sinclair/typebox'
import t from 'tap'
import { onFirstUse } from '../../src/lib/compile-on-first-use'
import { bearer, build, register } from '../support/app'

t.test('every request and response schema of every route compiles', async (t) => {
  const ctx = await build(t, { compileSchemas: 'start' })
  await t.resolves(async () => { await ctx.app.ready() })
  const reg = await register(ctx.app)
  t.equal((await ctx.app.inject({ url: '/v1/auth/whoami', headers: bearer(reg.accessToken) })).statusCode, 200)
})

t.test('a schema that does not compile stops the start when compiled at start, and only its route when deferred', async (t) => {
  // fast-json-stringify refuses a $ref to a schema nobody added.
  const broken = { response: { 200: Type.Object({ x: Type.Ref('NoSuchSchema') }) } }
  const atStart = await build(t, { compileSchemas: 'start' })
  atStart.app.get('/broken', { schema: broken }, async () => ({ x: 1 }))
  await t.rejects(async () => { await atStart.app.ready() }, 'compiled at start: ready() fails')

  const deferred = await build(t)
  deferred.app.get('/broken', { schema: broken }, async () => ({ x: 1 }))
  await t.resolves(async () => { await deferred.app.ready() }, 'deferred: the app starts')
  t.equal((await deferred.app.inject({ url: '/broken' })).statusCode, 500, 'and the broken route fails on its first request')
  t.equal((await deferred.app.inject({ url: '/health/live' })).statusCode, 200, 'the others answer')
})

t.test('deferred checks still refuse bad input, from the first request on', async (t) => {
  const ctx = await build(t)
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'a@example.com', password: ['not', 'a', 'string'] } })
  t.equal(res.statusCode, 400)
})

t.test('onFirstUse compiles once, on the first call', async (t) => {
  let compiled = 0
  const double = onFirstUse(() => { compiled++; return (n: number) => n * 2 })
  t.equal(compiled, 0, 'nothing compiled before the first call')
  t.equal(double(2), 4)
  t.equal(double(5), 10)
  t.equal(compiled, 1)
})
