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

/** Exported for the test that compares each response with helmet's own middleware. */
export const API_POLICY: HelmetOptions = {
  ...HTML_ONLY,
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'same-site' },
  xFrameOptions: { action: 'deny' }
}

/** Swagger UI's own HTML, scripts and styles are served from 'self'. */
export const DOCS_POLICY: HelmetOptions = {
  contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'same-site' }
}

/**
 * The headers helmet's middleware sets for a policy. Every directive above is a constant (no per-request nonce),
 * so helmet's answer is the same for every request: asking it once, with a recording response, keeps helmet the
 * judge of the header values while a request pays for one object copy instead of helmet's chain of eight
 * middlewares and a raw setHeader each (about 5 % of a whoami's CPU in a profile under load).
 */
export function helmetHeaders (policy: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader (name: string, value: unknown) { headers[name.toLowerCase()] = String(value) },
    // X-Powered-By: Fastify never sets it, so there is nothing to remove.
    removeHeader () {}
  }
  let done = false
  helmet(policy)({} as never, recorder as never, (err?: unknown) => {
    if (err !== undefined) throw err
    done = true
  })
  if (!done) throw new Error('helmet did not answer synchronously: its headers can no longer be worked out once')
  return Object.freeze(headers)
}

async function securityHeaders (app: FastifyInstance): Promise<void> {
  const api = helmetHeaders(API_POLICY)
  const docs = helmetHeaders(DOCS_POLICY)
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(request.url.startsWith(DOCS_PREFIX) ? docs : api)
    done()
  })
}

export default fp(securityHeaders, { name: 'tessera-security-headers', fastify: '5.x' })
