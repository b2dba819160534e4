// Helmet's security headers on every response: Tessera's policy, worked out once at start-up.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import { DOCS_PREFIX } from './openapi'

/**
 * OWASP REST Security cheat sheet: JSON answers get a CSP that allows nothing; headers that only matter to HTML
 * pages in old browsers are left out (each one is bytes on every response).
 */
const HTML_ONLY = {
  xDnsPrefetchControl: false, xDownloadOptions: false, xPermittedCrossDomainPolicies: false, xXssProtection: false, originAgentCluster: false
} as const

const API_POLICY: HelmetOptions = {
  ...HTML_ONLY,
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'same-site' },
  xFrameOptions: { action: 'deny' }
}

/** Swagger UI's own HTML, scripts and styles are served from 'self'. */
const DOCS_POLICY: HelmetOptions = {
  contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'same-site' }
}

/**
 * @fastify/helmet rebuilds helmet's middleware (CSP compilation included) on every request, which
 * profiled at about 6 % of a whoami under load. The headers depend only on the path prefix, so
 * helmet itself is used directly and its two middlewares made once.
 */
async function securityHeaders (app: FastifyInstance): Promise<void> {
  const api = helmet(API_POLICY)
  const docs = helmet(DOCS_POLICY)
  app.addHook('onRequest', (request, reply, done) => {
    const apply = request.url.startsWith(DOCS_PREFIX) ? docs : api
    apply(request.raw, reply.raw, (err?: unknown) => done(err instanceof Error ? err : undefined))
  })
}

export default fp(securityHeaders, { name: 'tessera-security-headers', fastify: '5.x' })
