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
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
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
    transform: ({ schema, url }) => ({ schema, url: url.length > 1 ? url.replace(/\/$/, '') : url }),
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(openApi, { name: 'tessera-openapi', fastify: '5.x' })
