// The OpenAPI 3.1 document, made from the route schemas: Swagger UI under /docs and the JSON at /openapi.json, built on
// their first request.
import type * as FastifySwagger from '@fastify/swagger'
import type { SwaggerOptions } from '@fastify/swagger'
import type * as FastifySwaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import packageJson from '../../../package.json'
import type { Config } from '../../config'

/** Where Swagger UI lives; its pages get a security policy of their own (security-headers.ts). */
export const DOCS_PREFIX = '/docs'

declare module 'fastify' {
  interface FastifyInstance {
    /** The OpenAPI document of every route, as /openapi.json serves it. */
    openApiDocument: () => Promise<Record<string, unknown>>
    /** The same document in YAML, as openapi.yaml holds it. */
    openApiYaml: () => Promise<string>
  }
}

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

function swaggerOptions ({ host, port }: OpenApiOptions): SwaggerOptions {
  return {
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
  }
}

/**
 * The docs application: @fastify/swagger and @fastify/swagger-ui on an instance of their own, holding a copy of every
 * API route's method, URL and schema (with a handler that is never called). Only its document and its static files are
 * used. Nothing is validated or serialized there, so no schema is compiled twice.
 */
async function buildDocsApp (routes: RouteOptions[], sharedSchemas: unknown[], options: OpenApiOptions): Promise<FastifyInstance> {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded on the first docs request: see openApi below */
  const fastifySwagger = require('@fastify/swagger') as typeof FastifySwagger
  const fastifySwaggerUi = require('@fastify/swagger-ui') as typeof FastifySwaggerUi
  /* eslint-enable @typescript-eslint/no-require-imports */
  const docs = Fastify({ logger: false })
  docs.setValidatorCompiler(() => () => true)
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data))
  for (const schema of sharedSchemas) docs.addSchema(schema)
  await docs.register(fastifySwagger.default, swaggerOptions(options))
  for (const route of routes) {
    docs.route({ method: route.method, url: route.url, schema: route.schema, config: route.config, handler: () => undefined })
  }
  await docs.register(fastifySwaggerUi.default, { routePrefix: DOCS_PREFIX })
  await docs.ready()
  return docs
}

/** Answers a Swagger UI request from the docs application: status, body and the headers that describe the content. */
async function forward (docs: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const headers: Record<string, string> = {}
  for (const name of ['if-none-match', 'if-modified-since']) {
    const value = request.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  const res = await docs.inject({ method: request.method === 'HEAD' ? 'HEAD' : 'GET', url: request.url, headers })
  // A file Swagger UI does not have: Tessera's own 404 (problem+json), as for any other unknown path.
  if (res.statusCode === 404) return reply.callNotFound()
  for (const name of ['content-type', 'cache-control', 'etag', 'last-modified', 'location']) {
    const value = res.headers[name]
    if (value !== undefined) reply.header(name, value)
  }
  return await reply.code(res.statusCode).send(res.rawPayload)
}

/**
 * @fastify/swagger, @fastify/swagger-ui with @fastify/static, and the YAML writer they bring are about 150 modules:
 * tens of milliseconds of every start and several MiB of memory that a server only needs when someone reads its docs.
 * So the routes are recorded as they are declared, and the docs application is built from them on the first request
 * for the document or for Swagger UI.
 */
async function openApi (app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  const routes: RouteOptions[] = []
  // HEAD routes are Fastify's copies of the GET ones (the docs application makes its own); hidden ones, such as the
  // docs routes below, are left out of the document anyway.
  app.addHook('onRoute', (route) => { if (route.method !== 'HEAD' && route.schema?.hide !== true) routes.push(route) })
  let docs: Promise<FastifyInstance> | undefined
  const docsApp = async (): Promise<FastifyInstance> => {
    docs ??= buildDocsApp(routes, Object.values(app.getSchemas()), options)
    return await docs
  }
  app.decorate('openApiDocument', async () => (await docsApp()).swagger() as unknown as Record<string, unknown>)
  app.decorate('openApiYaml', async () => (await docsApp()).swagger({ yaml: true }))
  app.addHook('onClose', async () => { await (await docs)?.close() })

  app.get('/openapi.json', { schema: { hide: true } }, async () => await app.openApiDocument())
  const serveDocs = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => await forward(await docsApp(), request, reply)
  app.get(DOCS_PREFIX, { schema: { hide: true } }, serveDocs)
  app.get(`${DOCS_PREFIX}/*`, { schema: { hide: true } }, serveDocs)
}

export default fp(openApi, { name: 'tessera-openapi', fastify: '5.x' })
