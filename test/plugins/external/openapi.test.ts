// The docs plugin alone, in a process of its own: nothing of Swagger UI or the document is loaded before a docs request.
import t from 'tap'
import { build } from '../../support/app'

t.test('the docs are built on first use: a started server has loaded neither @fastify/swagger nor Swagger UI', async (t) => {
  const loaded = (pkg: string): boolean => Object.keys(require.cache).some((file) => file.includes(`/node_modules/${pkg}/`))
  const ctx = await build(t)
  await ctx.app.ready()
  for (const pkg of ['@fastify/swagger', '@fastify/swagger-ui', '@fastify/static']) t.notOk(loaded(pkg), `${pkg} not loaded at start`)
  t.equal((await ctx.app.inject({ url: '/docs/' })).statusCode, 200)
  for (const pkg of ['@fastify/swagger', '@fastify/swagger-ui']) t.ok(loaded(pkg), `${pkg} loaded by the first docs request`)
})
