// Public, unauthenticated routes: the JWKS and the health probes.
import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { KeyProvider } from '../../keys/key-provider'
import { Problems } from '../../lib/problem'
import { noSecurity, unavailable } from '../../schemas/responses'

export interface MetaRoutesOptions {
  keys: KeyProvider
  /** Resolves when the user store answers. */
  ping: () => Promise<void>
  jwksMaxAge: number
}

const JwkSchema = Type.Object({
  kty: Type.String(),
  kid: Type.String(),
  alg: Type.String(),
  use: Type.Literal('sig'),
  crv: Type.Optional(Type.String()),
  x: Type.Optional(Type.String()),
  y: Type.Optional(Type.String()),
  n: Type.Optional(Type.String()),
  e: Type.Optional(Type.String())
})
const JwksSchema = Type.Object({ keys: Type.Array(JwkSchema) }, { title: 'JWKS' })
const StatusSchema = Type.Object({ status: Type.String() })
/** A 304 repeats them too (RFC 9110 §15.4.5), so caches can refresh the stored answer. */
const jwksCacheHeaders = () => ({
  'cache-control': Type.String({ description: 'public, max-age=JWKS_MAX_AGE' }),
  etag: Type.String({ description: 'Send back in If-None-Match' })
})

const READY_TIMEOUT_MS = 2000

const metaRoutes: FastifyPluginAsyncTypebox<MetaRoutesOptions> = async (app, { keys, ping, jwksMaxAge }) => {
  app.get('/.well-known/jwks.json', {
    schema: {
      operationId: 'getJwks',
      tags: ['keys'],
      summary: 'Public keys that verify Tessera tokens (RFC 7517); HS256 publishes none',
      security: noSecurity(),
      response: {
        200: { description: 'The key set', content: { 'application/json': { schema: JwksSchema } }, headers: jwksCacheHeaders() },
        304: { type: 'null', description: 'Not modified (If-None-Match matched the ETag)', headers: jwksCacheHeaders() }
      }
    }
  }, async (request, reply) => {
    const body = { keys: keys.ring().jwks() }
    const etag = '"' + createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 27) + '"'
    reply.header('cache-control', `public, max-age=${jwksMaxAge}`).header('etag', etag)
    const ifNoneMatch = request.headers['if-none-match']
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
      return reply.code(304).send()
    }
    return body
  })

  app.get('/health/live', {
    schema: {
      operationId: 'getLiveness', tags: ['health'], summary: 'The process is up', security: noSecurity(),
      response: { 200: { ...StatusSchema, description: 'Alive' } }
    }
  }, async () => ({ status: 'ok' }))

  app.get('/health/ready', {
    schema: {
      operationId: 'getReadiness',
      tags: ['health'],
      summary: 'The user store answers',
      security: noSecurity(),
      response: { 200: { ...StatusSchema, description: 'Ready' }, ...unavailable }
    }
  }, async () => {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        ping(),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS) })
      ])
    } catch {
      throw Problems.storeUnavailable()
    } finally {
      clearTimeout(timer)
    }
    return { status: 'ok' }
  })
}

export default metaRoutes
