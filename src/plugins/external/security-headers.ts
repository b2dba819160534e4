// Helmet's security headers on every response, with the middleware built once at start-up.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

export interface SecurityHeadersOptions {
  /** Headers of the JSON API. */
  api: HelmetOptions
  /** Headers under `prefix` (Swagger UI: HTML, scripts and styles of its own). */
  docs: { prefix: string, options: HelmetOptions }
}

/**
 * @fastify/helmet rebuilds helmet's middleware (CSP compilation included) on every request, which
 * profiled at about 6 % of a whoami under load. The headers depend only on the path prefix, so
 * helmet itself is used directly and its two middlewares made once.
 */
async function securityHeaders (app: FastifyInstance, options: SecurityHeadersOptions): Promise<void> {
  const api = helmet(options.api)
  const docs = helmet(options.docs.options)
  const { prefix } = options.docs
  app.addHook('onRequest', (request, reply, done) => {
    const apply = request.url.startsWith(prefix) ? docs : api
    apply(request.raw, reply.raw, (err?: unknown) => done(err instanceof Error ? err : undefined))
  })
}

export default fp(securityHeaders, { name: 'tessera-security-headers', fastify: '5.x' })
