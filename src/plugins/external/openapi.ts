// The OpenAPI 3.1 document, made from the route schemas: Swagger UI under /docs and the JSON at /openapi.json.
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import packageJson from '../../../package.json'
import type { Config } from '../../config'

/** Where Swagger UI lives; its pages get a security policy of their own (security-headers.ts). */
export const DOCS_PREFIX = '/docs'

export interface OpenApiOptions {
  /** Where the API listens, for the document's `servers`. */
  host: Config['host']
  port: Config['port']
}

/** The routes that issue tokens from a body credential (a proof there binds them): app.dpopTokenRequest runs on them. */
const TOKEN_OPERATIONS = new Set(['register', 'login', 'refreshTokens', 'verifyMfa'])

const DPOP_HEADER = {
  type: 'string',
  description: 'A DPoP proof (RFC 9449 §4): a JWT with typ dpop+jwt signed by the client\'s key, naming this method (htm) and URL ' +
    '(htu), with ath on protected routes. Required with a DPoP-bound token, and at the token endpoints under DPOP=required'
}

/**
 * Documents the DPoP header on the routes that read it (token endpoints and every protected route), for the document
 * only: the header is checked by src/tokens/dpop.ts, which answers invalid_dpop_proof rather than a validation error.
 */
function withDpopHeader<S> (schema: S): S {
  const s = schema as { operationId?: unknown, security?: Array<Record<string, unknown>>, headers?: unknown } | undefined
  if (s === undefined || s.headers !== undefined) return schema
  const protectedRoute = s.security?.some((requirement) => 'bearerAuth' in requirement) === true
  if (!protectedRoute && !TOKEN_OPERATIONS.has(String(s.operationId))) return schema
  return { ...s, headers: { type: 'object', properties: { DPoP: DPOP_HEADER } } } as S
}

async function openApi (app: FastifyInstance, { host, port }: OpenApiOptions): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera',
        version: packageJson.version,
        license: { name: packageJson.license, identifier: packageJson.license },
        description: 'Stateless JWT authentication API. Errors are RFC 9457 problem+json; Bearer failures carry an RFC 6750 WWW-Authenticate challenge.'
      },
      servers: [{ url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}` }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          dpopAuth: {
            type: 'http',
            scheme: 'dpop',
            description: 'RFC 9449: a token issued with tokenType DPoP, sent as `Authorization: DPoP <token>` with a fresh proof in the DPoP header'
          }
        }
      },
      tags: [
        { name: 'auth', description: 'Registration, login and tokens' },
        { name: 'recovery', description: 'Password reset and email verification by emailed links' },
        { name: 'me', description: 'The caller\'s own account' },
        { name: 'users', description: 'Administration (role admin)' },
        { name: 'keys', description: 'Public keys' },
        { name: 'health', description: 'Probes' }
      ]
    },
    // Routes declared as '/' under a prefix are documented without the trailing slash (/v1/me).
    transform: ({ schema, url }) => ({ schema: withDpopHeader(schema), url: url.length > 1 ? url.replace(/\/$/, '') : url }),
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(openApi, { name: 'tessera-openapi', fastify: '5.x' })
