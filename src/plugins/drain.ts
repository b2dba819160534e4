// While the server drains (after SIGTERM), a request arriving on a keep-alive connection opened before it is
// answered with our problem, not Fastify's own `{"error":"Service Unavailable"}` (return503OnClosing is off).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Problems } from '../lib/problem'

async function drainPlugin (app: FastifyInstance): Promise<void> {
  let draining = false
  // preClose runs once Fastify has started closing and before the listener closes: from here on, no new work.
  app.addHook('preClose', async () => { draining = true })
  // A callback hook, not an async one: it runs on every request, and a promise per request would be spent on nothing.
  app.addHook('onRequest', (_request, _reply, done) => {
    if (draining) done(Problems.draining())
    else done()
  })
}

export default fp(drainPlugin, { name: 'tessera-drain', fastify: '5.x', dependencies: ['tessera-problems'] })
